import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { WebhookDataModule } from './webhook-data.module';
import { TaskExecutionsController } from './task-executions.controller';
import { TaskExecutionsRepository } from './task-executions.repository';
import { TaskExecutionsService } from './task-executions.service';

@Module({
  imports: [FlowExecutionsModule, WebhookDataModule, EventLogModule],
  controllers: [TaskExecutionsController],
  providers: [TaskExecutionsService, TaskExecutionsRepository],
  exports: [TaskExecutionsRepository],
})
export class TaskExecutionsModule {}
