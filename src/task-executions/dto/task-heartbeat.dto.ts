import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { ApiAnyJson } from '../../common/http/api-any-json';
import { runTrace } from '../../common/http/trace-context';
import { EXECUTION_STATUSES, ExecutionStatus } from '../../flow-executions/execution-status';

/** The most `details` a heartbeat may carry, as JSON text (docs/api.md#heartbeats). */
export const HEARTBEAT_DETAILS_MAX_BYTES = 64 * 1024;

@ApiSchema({ name: 'TaskHeartbeatRequest' })
export class TaskHeartbeatRequestDto {
  /** The task's latest progress, any JSON of at most 64 KiB; kept until the next heartbeat that sends one. */
  @ApiAnyJson({ required: false })
  @IsOptional()
  details?: unknown;
}

@ApiSchema({ name: 'TaskHeartbeatResponse' })
export class TaskHeartbeatResponseDto {
  @ApiProperty({ format: 'uuid' })
  task_execution_id: string;
  /** When the task times out unless it heartbeats or reports again (or its task timeout, whichever is sooner); null when no timeout applies. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lease_expires_at: string | null;
  /** True once the run is `cancel_requested` or `cancelled`: the worker should stop and report the task cancelled. */
  cancel_requested: boolean;
  @ApiProperty({ enum: EXECUTION_STATUSES })
  flow_execution_status: ExecutionStatus;
  /** Extension: the W3C `traceparent` kept with the run (docs/api.md#trace-context), so the worker continues its trace; null when none. */
  @ApiProperty({ type: String, nullable: true })
  traceparent: string | null;
  /** Extension: the W3C `tracestate` that came with `traceparent`; null when none. */
  @ApiProperty({ type: String, nullable: true })
  tracestate: string | null;
}

export interface HeartbeatRow {
  organization_id: string;
  processing_status: string;
  run_status: ExecutionStatus;
  beaten: boolean;
  lease_expires_at: string | null;
  traceparent: string | null;
  tracestate: string | null;
}

export function toTaskHeartbeatResponse(id: string, row: HeartbeatRow): TaskHeartbeatResponseDto {
  return {
    task_execution_id: id,
    lease_expires_at: row.lease_expires_at,
    cancel_requested: row.run_status === 'cancel_requested' || row.run_status === 'cancelled',
    flow_execution_status: row.run_status,
    ...runTrace(row),
  };
}
