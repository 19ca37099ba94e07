import { Module } from '@nestjs/common';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { RetentionService } from './retention.service';

/** Deletes executions past their flow's `settings.ttl.seconds`; see RetentionService. */
@Module({ imports: [FlowExecutionsModule], providers: [RetentionService] })
export class RetentionModule {}
