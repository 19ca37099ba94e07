export const EXECUTION_STATUSES = [
  'queued',
  'running',
  'completed',
  'failed',
  'deleted',
  'stale',
  'edited',
  'awaiting_input',
  'cancel_requested',
  'cancelled',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** Statuses that hold one of the organization's concurrency slots. */
export const ACTIVE_STATUSES: readonly ExecutionStatus[] = ['running', 'awaiting_input', 'cancel_requested'];

/** Statuses a flow's `settings.ttl.seconds` counts from (the database's `terminal_at`). */
export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ['completed', 'failed', 'cancelled'];

export function isActive(status: ExecutionStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}

export function isExecutionStatus(value: unknown): value is ExecutionStatus {
  return typeof value === 'string' && (EXECUTION_STATUSES as readonly string[]).includes(value);
}
