import { Module } from '@nestjs/common';
import { FlowTagsController, TaskTagsController } from './task-tags.controller';
import { TaskTagsRepository } from './task-tags.repository';
import { TaskTagsService } from './task-tags.service';

@Module({
  controllers: [TaskTagsController, FlowTagsController],
  providers: [TaskTagsService, TaskTagsRepository],
})
export class TaskTagsModule {}
