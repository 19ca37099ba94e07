import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { TaskExecutionsModule } from './task-executions.module';
import { FlowTagsController, TaskTagsController } from './task-tags.controller';
import { TaskTagsRepository } from './task-tags.repository';
import { TaskTagsService } from './task-tags.service';

@Module({
  imports: [FlowExecutionsModule, TaskExecutionsModule, EventLogModule],
  controllers: [TaskTagsController, FlowTagsController],
  providers: [TaskTagsService, TaskTagsRepository],
})
export class TaskTagsModule {}
