import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { TaskExecutionsController } from './task-executions.controller';
import { TaskExecutionsRepository } from './task-executions.repository';
import { TaskExecutionsService } from './task-executions.service';
import { TaskStatusesController } from './task-statuses.controller';
import { FlowTagsController, TaskTagsController } from './task-tags.controller';
import { TaskTagsRepository } from './task-tags.repository';
import { TaskTagsService } from './task-tags.service';
import { WebhookDataController } from './webhook-data.controller';
import { WebhookDataRepository } from './webhook-data.repository';
import { WebhookDataService } from './webhook-data.service';

/** The tasks of a run: their executions, status history, tags, and the webhook data that completes them. */
@Module({
  imports: [FlowExecutionsModule, EventLogModule],
  controllers: [TaskStatusesController, TaskExecutionsController, WebhookDataController, TaskTagsController, FlowTagsController],
  providers: [TaskExecutionsService, TaskExecutionsRepository, WebhookDataService, WebhookDataRepository, TaskTagsService, TaskTagsRepository],
  exports: [TaskExecutionsService],
})
export class TaskExecutionsModule {}
