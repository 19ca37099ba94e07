import { Global, Module } from '@nestjs/common';
import { FlowsModule } from '../flows/flows.module';
import { NotifierModule } from '../database/notifier.module';
import { EventsController } from '../feed/feed.controller';
import { EventsRepository } from './event-log.repository';
import { EventsService } from './event-log.service';

/** The event log: every change of an execution, in commit order, for the feed, long-polls and webhooks. */
@Global()
@Module({
  imports: [FlowsModule, NotifierModule],
  controllers: [EventsController],
  providers: [EventsService, EventsRepository],
  exports: [EventsService],
})
export class EventsModule {}
