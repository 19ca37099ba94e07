import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import type { OwnedKey } from '../common/idempotency/idempotency.context';
import { Idempotent, OwnedIdempotencyKey } from '../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { ListWebhookDeliveriesQueryDto, WebhookDeliveriesPageDto, WebhookRedeliveryDto } from './dto/webhook-delivery.dto';
import { CreateWebhookDto, UpdateWebhookDto, WebhookResponseDto, WebhookWithSecretResponseDto } from './dto/webhook.dto';
import { WebhookSecretCodec } from './webhook-secret.codec';
import { WebhooksService } from './webhooks.service';

const WebhookId = () => Param('webhook_id', new ParseIdPipe('webhook'));
const DeliveryId = () => Param('delivery_id', new ParseIdPipe('delivery'));

@ApiTags('webhooks')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@RequirePermission('webhooks:manage')
@Controller('webhooks')
export class WebhooksController {
  constructor(private readonly service: WebhooksService) {}

  /** Register an endpoint for the organization's events; the signing secret is in this response only. */
  @Post()
  @Idempotent(WebhookSecretCodec)
  @ApiErrors(400, 403, 404)
  createWebhook(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateWebhookDto,
    @OwnedIdempotencyKey() key: OwnedKey | undefined,
  ): Promise<WebhookWithSecretResponseDto> {
    return this.service.create(principal, dto, key);
  }

  /** The organization's webhooks, oldest first. */
  @Get()
  @ApiErrors(403)
  listWebhooks(@CurrentPrincipal() principal: Principal): Promise<WebhookResponseDto[]> {
    return this.service.list(principal);
  }

  /** One webhook (never its secret). */
  @Get(':webhook_id')
  @ApiErrors(400, 403, 404)
  getWebhook(@CurrentPrincipal() principal: Principal, @WebhookId() id: string): Promise<WebhookResponseDto> {
    return this.service.get(principal, id);
  }

  /** Change the URL, filters, description, or status (`enabled` / `disabled`). */
  @Patch(':webhook_id')
  @ApiErrors(400, 403, 404)
  updateWebhook(@CurrentPrincipal() principal: Principal, @WebhookId() id: string, @Body() dto: UpdateWebhookDto): Promise<WebhookResponseDto> {
    return this.service.update(principal, id, dto);
  }

  /** Delete a webhook: nothing more is sent to it, scheduled retries included. */
  @Delete(':webhook_id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 403, 404)
  deleteWebhook(@CurrentPrincipal() principal: Principal, @WebhookId() id: string): Promise<void> {
    return this.service.remove(principal, id);
  }

  /** A new signing secret, shown once; for 24 hours deliveries carry signatures by the old and the new. */
  @Post(':webhook_id/rotate-secret')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 403, 404)
  rotateWebhookSecret(@CurrentPrincipal() principal: Principal, @WebhookId() id: string): Promise<WebhookWithSecretResponseDto> {
    return this.service.rotateSecret(principal, id);
  }

  /** The delivery log: attempts, newest first, with the response status or the error, and the message's state. */
  @Get(':webhook_id/deliveries')
  @ApiErrors(400, 403, 404)
  listWebhookDeliveries(
    @CurrentPrincipal() principal: Principal,
    @WebhookId() id: string,
    @Query() query: ListWebhookDeliveriesQueryDto,
  ): Promise<WebhookDeliveriesPageDto> {
    return this.service.deliveries(principal, id, query);
  }

  /** Send a delivery's event again, as a new message with the same `webhook-id`. */
  @Post(':webhook_id/deliveries/:delivery_id/redeliver')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiErrors(400, 403, 404, 409)
  redeliverWebhookDelivery(@CurrentPrincipal() principal: Principal, @WebhookId() id: string, @DeliveryId() deliveryId: string): Promise<WebhookRedeliveryDto> {
    return this.service.redeliver(principal, id, deliveryId);
  }
}
