export const EVENT_TYPES = [
  'flow_execution.created',
  'flow_execution.status_changed',
  'flow_execution.deleted',
  'task_execution.updated',
  'task_execution.timed_out',
  'bulk_action.completed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** The channel `append_flow_events` notifies on: payload `<organization_id> <flow_execution_id>`, sent at commit. */
export const CHANGES_CHANNEL = 'flow_execution_changes';

export interface StoredEvent {
  id: string;
  type: EventType;
  occurred_at: string;
  payload: Record<string, unknown>;
}

/** A stored event as readers see it (the feed's JSON, a webhook's body): its payload beside id, type and time. */
export function renderEvent(event: StoredEvent): Record<string, unknown> {
  return { id: event.id, type: event.type, occurred_at: event.occurred_at, ...event.payload };
}
