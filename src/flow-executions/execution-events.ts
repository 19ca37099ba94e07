import type { EventType } from '../event-log/event-types';
import type { LogEvent } from '../event-log/event-log.service';
import { FlowExecutionRow, toFlowExecutionResponse } from './dto/flow-execution.dto';
import type { ExecutionStatus } from './execution-status';

/**
 * An event about an execution, as the feed and webhooks show it: the execution as the retrieve
 * endpoint returns it with its run number, the status before (status changes and deletes), and
 * anything else the event carries (`task_execution`, built by its writer).
 */
export function executionEvent(
  type: EventType,
  execution: FlowExecutionRow,
  previousStatus: ExecutionStatus | null = null,
  extra: Record<string, unknown> = {},
): LogEvent {
  return {
    type,
    organizationId: execution.organization_id,
    flowId: execution.flow_id,
    flowExecutionId: execution.id,
    payload: { flow_execution: toFlowExecutionResponse(execution, { includeRunNumber: true }), previous_status: previousStatus, ...extra },
    status: execution.status,
    previousStatus,
  };
}

/**
 * A status change's event (`flow_execution.deleted` or `.status_changed`) with the status before and
 * `reason`: why it changed, the cause's name unless the change names a finer one.
 */
export function statusChangeEvent(after: FlowExecutionRow, previousStatus: ExecutionStatus, reason: string): LogEvent {
  const type = after.status === 'deleted' ? 'flow_execution.deleted' : 'flow_execution.status_changed';
  return executionEvent(type, after, previousStatus, { reason });
}
