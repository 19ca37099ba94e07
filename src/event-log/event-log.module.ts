import { Module } from '@nestjs/common';
import { NotifierModule } from '../database/notifier.module';
import { EventLogRepository } from './event-log.repository';
import { EventLog } from './event-log.service';

/** The event log: every change of an execution, in commit order, for the feed, long-polls and webhooks. */
@Module({
  imports: [NotifierModule],
  providers: [EventLog, EventLogRepository],
  exports: [EventLog],
})
export class EventLogModule {}
