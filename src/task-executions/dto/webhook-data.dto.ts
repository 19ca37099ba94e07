import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { IsObject, IsString, Length } from 'class-validator';

export const WEBHOOK_DATA_STATUSES = ['received', 'duplicate'] as const;
export type WebhookDataStatus = (typeof WEBHOOK_DATA_STATUSES)[number];

@ApiSchema({ name: 'WebhookDataCreateRequest' })
export class WebhookDataCreateRequestDto {
  /** Name of the webhook_receiver task, in the execution's flow version, that waits for this data. */
  @IsString()
  @Length(1, 200)
  task_name: string;

  /**
   * The task's output: it must match the task's output model (its `fields` parameter). The first
   * body stored wins: the identical body again is a `duplicate`, a different one a 409.
   */
  @ApiProperty({ type: 'object', additionalProperties: true })
  @IsObject()
  data: Record<string, unknown>;
}

@ApiSchema({ name: 'WebhookDataAckResponse' })
export class WebhookDataAckResponseDto {
  /** Identifier of the stored payload. */
  @ApiProperty({ format: 'uuid' })
  id: string;

  /** `received` on first delivery, `duplicate` when the identical data was already stored. */
  @ApiProperty({ enum: WEBHOOK_DATA_STATUSES })
  status: WebhookDataStatus;
}

export function toWebhookDataAck(id: string, status: WebhookDataStatus): WebhookDataAckResponseDto {
  return { id, status };
}
