import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { NotifierModule } from '../database/notifier.module';
import { FlowsModule } from '../flows/flows.module';
import { DeliveryWorker } from './delivery-worker';
import { WebhookSecretCodec } from './webhook-secret.codec';
import { WebhookEntity } from './webhook.entity';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/** Webhooks: endpoints, the delivery worker every replica runs, and the delivery log. */
@Module({
  imports: [TypeOrmModule.forFeature([WebhookEntity]), FlowsModule, NotifierModule],
  controllers: [WebhooksController],
  providers: [WebhooksService, WebhooksRepository, DeliveryWorker, WebhookSecretCodec],
})
export class WebhooksModule {}
