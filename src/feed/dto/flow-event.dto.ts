import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { QueryInt } from '../../common/validation/query-transforms';
import { FlowExecutionResponseWithRunNumberDto } from '../../flow-executions/dto/flow-execution.dto';
import { EXECUTION_STATUSES, ExecutionStatus } from '../../flow-executions/execution-status';
import { BulkActionResponseDto } from '../../bulk-actions/dto/bulk-action.dto';
import { TaskExecutionResponseDto } from '../../task-executions/dto/task-execution.dto';
import { EVENT_TYPES, EventType } from '../../event-log/event-types';
import type { RenderedEvent } from '../../event-log/event-log.service';
import { RawJson } from '../../common/http/raw-json';

export class ListFlowEventsQueryDto {
  /** Only the events of this flow's executions; without it, the whole organization's. */
  @IsOptional()
  @IsUUID()
  flow_id?: string;

  /** The cursor: the `id` of the last event seen (or a page's `next_cursor`); without it, from the oldest retained. */
  @IsOptional()
  @IsString()
  @MaxLength(32)
  after?: string;

  /** Events per page (per batch, for a stream). */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number = 100;
}

export class FlowEventDto {
  /** The event's cursor: increasing in commit order within the organization. */
  id: string;
  @ApiProperty({ enum: EVENT_TYPES })
  type: EventType;
  occurred_at: string;
  /** The execution as the retrieve endpoint returned it right after the change, with its run number (every type but `bulk_action.completed`). */
  flow_execution?: FlowExecutionResponseWithRunNumberDto;
  /** The status before, for `flow_execution.status_changed` and `flow_execution.deleted`; null otherwise. */
  @ApiProperty({ enum: EXECUTION_STATUSES, nullable: true })
  previous_status: ExecutionStatus | null;
  /** The bulk action as `GET /api/bulk-actions/{id}` answers it, for `bulk_action.completed`. */
  bulk_action?: BulkActionResponseDto;
  /**
   * Why the status changed, on `flow_execution.status_changed` and `flow_execution.deleted`: the
   * cause (`patch`, `cancel`, `delete`, `re_execute`, `admit`, `task_awaiting_input`, `task_edited`,
   * `webhook_data`, `retention`, `redrive`) or a finer reason the cause names (a `timeout`: `execution_timeout`,
   * `heartbeat_timeout`, `task_timeout`, `cancel_timeout`, `awaiting_input_timeout`); on
   * `task_execution.timed_out`, `heartbeat_timeout` or `task_timeout`.
   */
  reason?: string;
  /** The task execution as written, for `task_execution.updated` and `task_execution.timed_out`. */
  task_execution?: TaskExecutionResponseDto;
}

export class FlowEventsPageDto {
  /** Oldest first. */
  events: FlowEventDto[];
  /** The cursor to ask with next: the last event's id, or the one given when the page is empty. */
  next_cursor: string;
}

/**
 * An event as the feed sends it: a FlowEventDto's JSON as PostgreSQL wrote it (RenderedEvent),
 * spliced into a page or a stream unparsed, with its id and type beside for the stream's fields.
 */
export class FeedEvent extends RawJson {
  constructor(
    readonly id: string,
    readonly type: EventType,
    text: string,
  ) {
    super(text);
  }
}

export function toFeedEvent(event: RenderedEvent): FeedEvent {
  return new FeedEvent(event.id, event.type, event.json);
}
