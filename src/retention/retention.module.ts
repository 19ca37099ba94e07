import { Module } from '@nestjs/common';
import { RetentionRepository } from './retention.repository';
import { RetentionService } from './retention.service';

/** Deletes executions past their flow's `settings.ttl.seconds`; see RetentionService. */
@Module({ providers: [RetentionService, RetentionRepository] })
export class RetentionModule {}
