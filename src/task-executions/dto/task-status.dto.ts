import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsString, Length, ValidateNested } from 'class-validator';

/** Task statuses are the spec's ProcessingStatus, so that responses always validate against it. */
export const PROCESSING_STATUSES = ['queued', 'running', 'completed', 'failed', 'deleted', 'awaiting_input', 'cancel_requested', 'cancelled'] as const;
export type ProcessingStatus = (typeof PROCESSING_STATUSES)[number];
/** Task statuses that end its work: a heartbeat on one is a 409 (docs/api.md#heartbeats). */
export const FINISHED_TASK_STATUSES: readonly ProcessingStatus[] = ['completed', 'failed', 'cancelled'];
/** Task statuses a heartbeat is taken in. */
export const UNFINISHED_TASK_STATUSES: readonly ProcessingStatus[] = PROCESSING_STATUSES.filter((s) => s !== 'deleted' && !FINISHED_TASK_STATUSES.includes(s));

@ApiSchema({ name: 'AddTaskStatusRequestItem' })
export class AddTaskStatusItemDto {
  /** Name of the task as defined in the flow definition (case-sensitive). */
  @IsString()
  @Length(1, 255)
  task_name: string;

  @ApiProperty({ enum: PROCESSING_STATUSES })
  @IsIn(PROCESSING_STATUSES)
  status: ProcessingStatus;
}

@ApiSchema({ name: 'AddTaskStatusRequest' })
export class AddTaskStatusRequestDto {
  /** 1 to 100 task status updates, recorded in the order given. */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => AddTaskStatusItemDto)
  statuses: AddTaskStatusItemDto[];
}

export interface FlowTaskStatusRow {
  id: string;
  flow_execution_id: string;
  task_name: string;
  status: ProcessingStatus;
  created_at: Date;
  organization_id: string;
}

@ApiSchema({ name: 'FlowTaskStatusAPI' })
export class FlowTaskStatusResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;
  @ApiProperty({ format: 'uuid' })
  flow_execution_id: string;
  task_name: string;
  @ApiProperty({ enum: PROCESSING_STATUSES })
  status: ProcessingStatus;
  created_at: string;
  @ApiProperty({ format: 'uuid' })
  organization_id: string;
}

export function toFlowTaskStatusResponse(row: FlowTaskStatusRow): FlowTaskStatusResponseDto {
  return { ...row, created_at: row.created_at.toISOString() };
}
