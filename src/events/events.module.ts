import { Global, Module } from '@nestjs/common';
import { FlowsModule } from '../flows/flows.module';
import { NotifierModule } from '../database/notifier.module';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';

/** The event log: every change of an execution, in commit order, for the feed, long-polls and webhooks. */
@Global()
@Module({
  imports: [FlowsModule, NotifierModule],
  controllers: [EventsController],
  providers: [EventsService, EventsRepository],
  exports: [EventsService],
})
export class EventsModule {}
