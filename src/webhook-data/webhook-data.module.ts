import { Module } from '@nestjs/common';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { WebhookDataController } from './webhook-data.controller';
import { WebhookDataRepository } from './webhook-data.repository';
import { WebhookDataService } from './webhook-data.service';

@Module({
  imports: [FlowExecutionsModule],
  controllers: [WebhookDataController],
  providers: [WebhookDataService, WebhookDataRepository],
  exports: [WebhookDataService],
})
export class WebhookDataModule {}
