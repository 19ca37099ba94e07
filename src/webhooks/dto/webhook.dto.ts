import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsDefined, IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { EVENT_TYPES, EventType } from '../../event-log/event-types';
import { WEBHOOK_STATUSES, WebhookEntity, WebhookStatus } from '../webhook.entity';

export class CreateWebhookDto {
  /** Where deliveries are POSTed: http or https, a public address. */
  @IsDefined()
  @IsString()
  @MaxLength(2048)
  url: string;

  @ApiProperty({ enum: EVENT_TYPES, isArray: true, required: false, description: 'The event types to deliver; all when omitted.' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn(EVENT_TYPES, { each: true })
  event_types?: EventType[];

  /** Only the events of this flow's executions; every flow's when omitted. */
  @IsOptional()
  @IsUUID()
  flow_id?: string;

  @IsOptional()
  @IsString()
  @MaxLength(1000)
  description?: string;
}

/** Fields left out stay as they are; `null` resets `event_types` and `flow_id` to all and clears `description`. */
export class UpdateWebhookDto {
  @ApiProperty({ type: String, required: false, maxLength: 2048 })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @ApiProperty({ enum: EVENT_TYPES, isArray: true, required: false, nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn(EVENT_TYPES, { each: true })
  event_types?: EventType[] | null;

  @ApiProperty({ type: String, format: 'uuid', required: false, nullable: true })
  @IsOptional()
  @IsUUID()
  flow_id?: string | null;

  @ApiProperty({ type: String, required: false, nullable: true, maxLength: 1000 })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  description?: string | null;

  /** `disabled` stops deliveries (pending ones fail); `enabled` resumes with new events and clears the failure count. */
  @ApiProperty({ enum: WEBHOOK_STATUSES, required: false })
  @IsOptional()
  @IsIn(WEBHOOK_STATUSES)
  status?: WebhookStatus;
}

export class WebhookResponseDto {
  id: string;
  organization_id: string;
  url: string;
  @ApiProperty({ enum: EVENT_TYPES, isArray: true })
  event_types: EventType[];
  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  flow_id: string | null;
  @ApiProperty({ type: String, nullable: true })
  description: string | null;
  /** `disabled` by a person, or by the service after the endpoint kept failing (see `disabled_reason`). */
  @ApiProperty({ enum: WEBHOOK_STATUSES })
  status: WebhookStatus;
  @ApiProperty({ type: String, nullable: true })
  disabled_reason: string | null;
  /** Messages that failed for good since the last successful delivery. */
  @ApiProperty({ type: 'integer' })
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
  modified_by: string;
}

export class WebhookWithSecretResponseDto extends WebhookResponseDto {
  /** The signing secret (`whsec_` + base64), shown only in this response. */
  secret: string;
}

export function toWebhookResponse(webhook: WebhookEntity): WebhookResponseDto {
  return {
    id: webhook.id,
    organization_id: webhook.organization_id,
    url: webhook.url,
    event_types: webhook.event_types ?? [...EVENT_TYPES],
    flow_id: webhook.flow_id,
    description: webhook.description,
    status: webhook.status,
    disabled_reason: webhook.disabled_reason,
    consecutive_failures: webhook.consecutive_failures,
    created_at: webhook.created_at.toISOString(),
    updated_at: webhook.updated_at.toISOString(),
    modified_by: webhook.modified_by,
  };
}

export function toWebhookWithSecret(webhook: WebhookEntity, secret: string): WebhookWithSecretResponseDto {
  return { ...toWebhookResponse(webhook), secret };
}
