import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { QueryInt } from '../../common/validation/query-transforms';
import { EVENT_TYPES, EventType } from '../../event-log/event-types';
import { DELIVERY_STATUSES, DeliveryStatus } from '../webhook.entity';

export class ListWebhookDeliveriesQueryDto {
  /** Only attempts of messages in this state. */
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 50 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number = 50;

  /** The cursor: a page's `next_cursor`, to read older attempts. */
  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'after must be the id of an attempt' })
  after?: string;
}

/** One attempt to deliver one message, and the message's current state. */
export class WebhookDeliveryAttemptDto {
  /** The attempt's id, a cursor for `after`. */
  id: string;
  /** The message: what `redeliver` takes. */
  delivery_id: string;
  /** The event, and the `webhook-id` header sent. */
  event_id: string;
  @ApiProperty({ enum: EVENT_TYPES })
  event_type: EventType;
  /** 1 for the first attempt of this message. */
  @ApiProperty({ type: 'integer' })
  attempt: number;
  /** The endpoint's HTTP status, or null when no response came (see `error`). */
  @ApiProperty({ type: 'integer', nullable: true })
  response_status: number | null;
  /** The network error, timeout or refusal, or null when a response came. */
  @ApiProperty({ type: String, nullable: true })
  error: string | null;
  @ApiProperty({ type: 'integer' })
  duration_ms: number;
  attempted_at: string;
  /** When this attempt failed and a retry was scheduled: when. */
  @ApiProperty({ type: String, nullable: true })
  next_attempt_at: string | null;
  /** The message's state now. */
  @ApiProperty({ enum: DELIVERY_STATUSES })
  status: DeliveryStatus;
}

export class WebhookDeliveriesPageDto {
  /** Newest first. */
  deliveries: WebhookDeliveryAttemptDto[];
  /** Pass as `after` for older attempts; null on the last page. */
  @ApiProperty({ type: String, nullable: true })
  next_cursor: string | null;
}

/** A message queued by `redeliver`. */
export class WebhookRedeliveryDto {
  delivery_id: string;
  event_id: string;
  @ApiProperty({ enum: EVENT_TYPES })
  event_type: EventType;
  @ApiProperty({ enum: DELIVERY_STATUSES })
  status: DeliveryStatus;
  created_at: string;
}
