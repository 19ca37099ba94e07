import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { FlowsModule } from '../flows/flows.module';
import { FeedController } from './feed.controller';
import { FeedService } from './feed.service';

/** The event feed over HTTP: JSON pages (long-polled on request) and Server-Sent Events. */
@Module({ imports: [EventLogModule, FlowsModule], controllers: [FeedController], providers: [FeedService] })
export class FeedModule {}
