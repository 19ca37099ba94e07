import { Global, Module } from '@nestjs/common';
import { FlowsModule } from '../flows/flows.module';
import { ChangeNotifier } from '../database/notifier';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';

/** The event log: every change of an execution, in commit order, for the feed, long-polls and webhooks. */
@Global()
@Module({
  imports: [FlowsModule],
  controllers: [EventsController],
  providers: [EventsService, EventsRepository, ChangeNotifier],
  exports: [EventsService, ChangeNotifier],
})
export class EventsModule {}
