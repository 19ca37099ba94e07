import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { TaskExecutionsRepository } from './task-executions.repository';
import { WebhookDataController } from './webhook-data.controller';
import { WebhookDataRepository } from './webhook-data.repository';
import { WebhookDataService } from './webhook-data.service';

@Module({
  imports: [FlowExecutionsModule, EventLogModule],
  controllers: [WebhookDataController],
  // TaskExecutionsRepository is stateless; provided here too since TaskExecutionsModule imports this one.
  providers: [WebhookDataService, WebhookDataRepository, TaskExecutionsRepository],
  exports: [WebhookDataService],
})
export class WebhookDataModule {}
