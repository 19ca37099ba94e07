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

/**
 * CONTRACT.md "Flow executions": the moves `PATCH .../status` may make; anything else is a 409.
 * `deleted` is reachable from all. Workers' task reports (awaiting_input) and re-execution
 * (back to running) are their own paths, not status patches.
 */
const TRANSITIONS: Record<ExecutionStatus, readonly ExecutionStatus[]> = {
  queued: ['running', 'cancelled'],
  running: ['completed', 'failed', 'cancel_requested'],
  awaiting_input: ['cancel_requested'],
  cancel_requested: ['cancelled'],
  completed: ['edited', 'stale'],
  failed: ['stale'],
  edited: [],
  stale: [],
  cancelled: [],
  deleted: [],
};

export function canTransition(from: ExecutionStatus, to: ExecutionStatus): boolean {
  if (to === 'deleted') return from !== 'deleted';
  return TRANSITIONS[from].includes(to);
}

/** The statuses from which a move to `to` is allowed (used in conditional UPDATEs). */
export function allowedSources(to: ExecutionStatus): ExecutionStatus[] {
  return EXECUTION_STATUSES.filter((from) => canTransition(from, to));
}

export function isActive(status: ExecutionStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}

export function isExecutionStatus(value: unknown): value is ExecutionStatus {
  return typeof value === 'string' && (EXECUTION_STATUSES as readonly string[]).includes(value);
}
