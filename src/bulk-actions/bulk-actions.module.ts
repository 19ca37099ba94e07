import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { BulkActionWorker } from './bulk-action-worker';
import { BulkActionsController } from './bulk-actions.controller';
import { BulkActionsRepository } from './bulk-actions.repository';
import { BulkActionsService } from './bulk-actions.service';

@Module({
  imports: [FlowExecutionsModule, EventLogModule],
  controllers: [BulkActionsController],
  providers: [BulkActionsService, BulkActionsRepository, BulkActionWorker],
})
export class BulkActionsModule {}
