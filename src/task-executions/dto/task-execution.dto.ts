import { rawJson } from '../../common/http/raw-json';
import { ApiAnyJson } from '../../common/http/api-any-json';
import { JsonText } from '../../common/validation/json-text.decorator';
import type { RunTrace } from '../../common/http/trace-context';
import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsOptional, IsRFC3339, IsString, IsUUID, Length, Max, Min } from 'class-validator';
import { PROCESSING_STATUSES, ProcessingStatus } from './task-status.dto';
import { IsTaskTag, MAX_TASK_TAGS } from '../task-tags';
import type { TaskExecutionTagEntity } from '../task-execution-tag.entity';
import { EDITED_STATUSES, EditedStatus, STALE_STATUSES, StaleStatus, TaskExecutionRow } from '../task-execution.entity';
import { nextLink } from '../../common/http/next-link';

const INT4_MAX = 2_147_483_647;
export const TERMINAL_TASK_STATUSES = ['completed', 'failed'] as const;
export type TerminalTaskStatus = (typeof TERMINAL_TASK_STATUSES)[number];

/** Fields a worker may report on create and update; on update only the fields present are applied. */
class TaskExecutionFieldsDto {
  /** Parameters given to the task executor: any JSON value. */
  @IsOptional()
  @JsonText()
  input?: unknown;

  /** What the task produced; changing it on a completed task execution is an edit that makes downstream tasks stale. */
  @IsOptional()
  @JsonText()
  output?: unknown;

  /** Error information of a failed task execution: any JSON value. */
  @IsOptional()
  @JsonText()
  error?: unknown;

  /** The original producer of this task's output, for pass-through tasks. */
  @IsOptional()
  @JsonText()
  source_task_executions?: unknown;

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true })
  @IsOptional()
  @IsRFC3339()
  started_at?: string | null;

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true })
  @IsOptional()
  @IsRFC3339()
  completed_at?: string | null;

  /** Also records a task status history entry (`completed` or `failed`) in the same transaction. */
  @ApiPropertyOptional({ enum: TERMINAL_TASK_STATUSES, nullable: true })
  @IsOptional()
  @IsIn(TERMINAL_TASK_STATUSES)
  terminal_task_status?: TerminalTaskStatus | null;

  /** `key:value` tags for this task of the flow execution (at most 100, and at most 100 active on the task); on update they replace the task's active tags. */
  @ApiPropertyOptional({ type: [String], example: ['priority:high'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_TASK_TAGS)
  @IsTaskTag({ each: true })
  tags?: unknown[] | null;

  /** Credits this task execution consumed; they add up to the flow execution's `total_credits`. */
  @ApiPropertyOptional({ type: 'integer', minimum: 0, nullable: true })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(INT4_MAX)
  credits?: number | null;
}

@ApiSchema({ name: 'CreateTaskExecutionRequest' })
export class CreateTaskExecutionDto extends TaskExecutionFieldsDto {
  /** The parent flow execution; the task execution belongs to its organization. */
  @IsUUID()
  flow_execution_id: string;

  /** A task of the flow version the execution runs (case-sensitive). */
  @IsString()
  @Length(1, 200)
  task_name: string;

  /** 0 for the first attempt, 1 for the first retry, and so on; unique per task of the execution. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  @IsInt()
  @Min(0)
  @Max(INT4_MAX)
  task_execution_idx: number;

  @ApiProperty({ enum: PROCESSING_STATUSES })
  @IsIn(PROCESSING_STATUSES)
  processing_status: ProcessingStatus;
}

/**
 * The spec's PUT body is a whole TaskExecutionAPI; the task execution is found by
 * (flow_execution_id, task_name, task_execution_idx). Server-kept fields (edited_status,
 * stale_status, organization_id, timestamps, modified_by) are ignored.
 */
@ApiSchema({ name: 'UpdateTaskExecutionRequest' })
export class UpdateTaskExecutionDto extends TaskExecutionFieldsDto {
  /** When given, it must be the id of the task execution the key names. */
  @IsOptional()
  @IsUUID()
  id?: string;

  @IsUUID()
  flow_execution_id: string;

  @IsString()
  @Length(1, 200)
  task_name: string;

  @ApiProperty({ type: 'integer', minimum: 0 })
  @IsInt()
  @Min(0)
  @Max(INT4_MAX)
  task_execution_idx: number;

  @ApiPropertyOptional({ enum: PROCESSING_STATUSES })
  @IsOptional()
  @IsIn(PROCESSING_STATUSES)
  processing_status?: ProcessingStatus;
}

@ApiSchema({ name: 'FlowTaskTagAPI' })
export class FlowTaskTagResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;
  @ApiProperty({ format: 'uuid' })
  flow_execution_id: string;
  task_name: string;
  tag: string;
  tag_type: string;
  @ApiAnyJson()
  tag_metadata: unknown;
  @ApiProperty({ type: String, nullable: true })
  status: string | null;
  created_at: string;
  updated_at: string;
  @ApiProperty({ type: String, nullable: true })
  modified_by: string | null;
  @ApiProperty({ format: 'uuid' })
  organization_id: string;
}

@ApiSchema({ name: 'TaskExecutionAPI' })
export class TaskExecutionResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;
  @ApiProperty({ format: 'uuid' })
  flow_execution_id: string;
  @ApiProperty({ type: 'integer', minimum: 0 })
  task_execution_idx: number;
  task_name: string;
  created_at: string;
  updated_at: string;
  modified_by: string;
  @ApiProperty({ enum: PROCESSING_STATUSES })
  processing_status: ProcessingStatus;
  @ApiProperty({ enum: EDITED_STATUSES })
  edited_status: EditedStatus;
  @ApiProperty({ enum: STALE_STATUSES })
  stale_status: StaleStatus;
  @ApiAnyJson()
  input: unknown;
  @ApiAnyJson()
  output: unknown;
  @ApiAnyJson()
  error: unknown;
  @ApiProperty({ format: 'uuid' })
  organization_id: string;
  @ApiAnyJson()
  source_task_executions: unknown;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  started_at: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  completed_at: string | null;
  /** The active tags of this task in its flow execution. */
  tags: FlowTaskTagResponseDto[];
  /** Credits consumed; on reads null unless `include_credits=true`, and null when none were reported. */
  @ApiProperty({ type: 'integer', nullable: true })
  credits: number | null;
  /**
   * Extension: the W3C `traceparent` kept with the flow execution (from the request that created or
   * last re-executed it), for the worker to continue the trace; null when none was sent. docs/api.md#trace-context
   */
  @ApiProperty({ type: String, nullable: true, example: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })
  traceparent: string | null;
  /** Extension: the W3C `tracestate` that came with `traceparent`; null when none. */
  @ApiProperty({ type: String, nullable: true })
  tracestate: string | null;
}

/** The list's items: the same fields, under the name the spec gives them there. */
@ApiSchema({ name: 'TaskExecutionWithTagsAPI' })
export class TaskExecutionWithTagsResponseDto extends TaskExecutionResponseDto {}

@ApiSchema({ name: 'ListTaskExecutionsResponse' })
export class ListTaskExecutionsResponseDto {
  /** Newest first, at most `limit`; `Link: <...>; rel="next"` when more exist. */
  task_executions: TaskExecutionWithTagsResponseDto[];
}

export interface TaskExecutionsPage {
  body: ListTaskExecutionsResponseDto;
  /** The last task execution's id when more exist. */
  nextCursor: string | null;
}

/** RFC 8288 link to the next page: the same query, after the last task execution of this one. */
export function nextTaskPageLink(originalUrl: string, after: string): string {
  return nextLink(originalUrl, { after });
}

export function toFlowTaskTagResponse(tag: TaskExecutionTagEntity): FlowTaskTagResponseDto {
  return {
    id: tag.id,
    flow_execution_id: tag.flow_execution_id,
    task_name: tag.task_name,
    tag: tag.tag,
    tag_type: tag.tag_type,
    tag_metadata: tag.tag_metadata,
    status: tag.status,
    created_at: tag.created_at.toISOString(),
    updated_at: tag.updated_at.toISOString(),
    modified_by: tag.modified_by,
    organization_id: tag.organization_id,
  };
}

/** `run`: the trace context of the task's flow execution (its row, or the columns read beside the task). */
export function toTaskExecutionResponse(
  row: TaskExecutionRow,
  tags: TaskExecutionTagEntity[],
  options: { includeCredits: boolean },
  run: RunTrace,
): TaskExecutionResponseDto {
  // The JSON columns come as text, spliced into answers and events as is (docs/api.md#event-loop-budget).
  const json = (text: string | null): unknown => rawJson(text);
  return {
    id: row.id,
    flow_execution_id: row.flow_execution_id,
    task_execution_idx: row.task_execution_idx,
    task_name: row.task_name,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    modified_by: row.modified_by,
    processing_status: row.processing_status,
    edited_status: row.edited_status,
    stale_status: row.stale_status,
    input: json(row.input),
    output: json(row.output),
    error: json(row.error),
    organization_id: row.organization_id,
    source_task_executions: json(row.source_task_executions),
    started_at: row.started_at?.toISOString() ?? null,
    completed_at: row.completed_at?.toISOString() ?? null,
    tags: tags.map(toFlowTaskTagResponse),
    credits: options.includeCredits ? row.credits : null,
    traceparent: run.traceparent,
    tracestate: run.tracestate,
  };
}
