import type { LogEvent } from '../event-log/event-log.service';
import { BulkActionRow, toBulkActionResponse } from './dto/bulk-action.dto';

/** `bulk_action.completed`: the action ended (completed, cancelled or failed); its row stands in for a run in the log's columns. */
export function completedEvent(row: BulkActionRow): LogEvent {
  return {
    type: 'bulk_action.completed',
    organizationId: row.organization_id,
    flowId: row.flow_id,
    flowExecutionId: row.id,
    payload: { bulk_action: toBulkActionResponse(row), previous_status: null },
    status: row.status,
    previousStatus: null,
  };
}
