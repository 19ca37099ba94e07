import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { RetentionRepository } from './retention.repository';
import { RetentionService } from './retention.service';

/** Deletes executions past their flow's `settings.ttl.seconds`; see RetentionService. */
@Module({ imports: [EventLogModule], providers: [RetentionService, RetentionRepository] })
export class RetentionModule {}
