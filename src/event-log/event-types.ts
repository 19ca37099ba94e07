export const EVENT_TYPES = [
  'flow_execution.created',
  'flow_execution.status_changed',
  'flow_execution.deleted',
  'task_execution.updated',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** The channel `append_flow_events` notifies on: payload `<organization_id> <flow_execution_id>`, sent at commit. */
export const CHANGES_CHANNEL = 'flow_execution_changes';

