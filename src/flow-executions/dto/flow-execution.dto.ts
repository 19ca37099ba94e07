import { BodyJson, RawJson } from '../../common/http/raw-json';
import { JsonText } from '../../common/validation/json-text.decorator';
import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { IsObject, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { EXECUTION_STATUSES, ExecutionStatus } from '../execution-status';
import { nextLink } from '../../common/http/next-link';

/** A flow execution as stored, with the optional figures a query may add. */
export interface FlowExecutionRow {
  id: string;
  organization_id: string;
  flow_id: string;
  flow_version: number;
  status: ExecutionStatus;
  /** The JSON text PostgreSQL keeps (`input::text`), spliced into answers and events unparsed (docs/api.md#event-loop-budget). */
  input: string;
  run_number: number;
  redrive_count: number;
  triggered_task_executor_name: string | null;
  pricing_config_id: string | null;
  modified_by: string;
  created_at: string;
  updated_at: string;
  /** The run's W3C trace context (docs/api.md#trace-context); not part of the run's body. */
  traceparent: string | null;
  tracestate: string | null;
  total_credits?: string | number | null;
}

@ApiSchema({ name: 'FlowExecutionCreateRequest' })
export class CreateFlowExecutionDto {
  /** UUID of the flow to execute; it must belong to the caller's organization. */
  @IsUUID()
  flow_id: string;

  /** Input data for the execution; validated against the input task's `input_schema` when it has one. */
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: "Input data for the execution; validated against the input task's `input_schema` when it has one.",
  })
  @IsObject()
  @JsonText()
  input: Record<string, unknown> | BodyJson;

  /** The input task firing this execution: required when the flow has several input tasks. */
  @IsOptional()
  @IsString()
  @MaxLength(255)
  input_task_name?: string | null;
}

@ApiSchema({ name: 'FlowExecutionResponse' })
export class FlowExecutionResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;
  created_at: string;
  updated_at: string;
  modified_by: string;
  @ApiProperty({ format: 'uuid' })
  flow_id: string;
  /** Version of the flow definition this execution runs. */
  @ApiProperty({ type: 'integer', minimum: 1 })
  flow_version: number;
  @ApiProperty({ enum: EXECUTION_STATUSES })
  status: ExecutionStatus;
  input: Record<string, unknown>;
  @ApiProperty({ format: 'uuid' })
  organization_id: string;
  @ApiProperty({ type: 'string', format: 'uuid', nullable: true })
  pricing_config_id: string | null;
  /** Sum of the task executions' credits; null unless `include_credits=true`, or when none has credits. */
  @ApiProperty({ type: 'integer', nullable: true })
  total_credits: number | null;
  /** Executor of the input task that fired this execution; set for multi-input flows. */
  @ApiProperty({ type: 'string', nullable: true })
  triggered_task_executor_name: string | null;
  /** How many times the run was redriven (an extension field, docs/api.md#redrive). */
  @ApiProperty({ type: 'integer', minimum: 0 })
  redrive_count: number;
}

/** The retrieve and list body: the spec names it apart, with the run number. */
@ApiSchema({ name: 'FlowExecutionResponseWithRunNumber' })
export class FlowExecutionResponseWithRunNumberDto extends FlowExecutionResponseDto {
  /** Position among all executions of the flow by creation (deleted included); null unless `include_run_number=true`. */
  @ApiProperty({ type: 'integer', minimum: 1, nullable: true })
  run_number: number | null;
}

export interface ResponseOptions {
  includeRunNumber?: boolean;
  includeCredits?: boolean;
}

export function toFlowExecutionResponse(row: FlowExecutionRow, options: ResponseOptions = {}): FlowExecutionResponseWithRunNumberDto {
  return {
    id: row.id,
    created_at: row.created_at,
    updated_at: row.updated_at,
    modified_by: row.modified_by,
    flow_id: row.flow_id,
    flow_version: row.flow_version,
    status: row.status,
    // JSON text is spliced into the response as is; RawJson serializes like the object it holds.
    input: typeof row.input === 'string' ? (new RawJson(row.input) as unknown as Record<string, unknown>) : row.input,
    organization_id: row.organization_id,
    pricing_config_id: row.pricing_config_id,
    total_credits: options.includeCredits && row.total_credits != null ? Number(row.total_credits) : null,
    triggered_task_executor_name: row.triggered_task_executor_name,
    redrive_count: row.redrive_count,
    run_number: options.includeRunNumber ? row.run_number : null,
  };
}

/** RFC 8288 link to the next page: the same query, paged by cursor instead of offset. */
export function nextPageLink(originalUrl: string, cursor: string): string {
  return nextLink(originalUrl, { start_from_execution_id: cursor }, ['page']);
}
