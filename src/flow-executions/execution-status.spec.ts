import { allowedSources, canTransition, EXECUTION_STATUSES, ExecutionStatus, isActive } from './execution-status';

// The full table from CONTRACT.md; every pair not listed must be refused.
const ALLOWED: [ExecutionStatus, ExecutionStatus][] = [
  ['queued', 'running'],
  ['running', 'completed'],
  ['running', 'failed'],
  ['running', 'cancel_requested'],
  ['awaiting_input', 'cancel_requested'],
  ['cancel_requested', 'cancelled'],
  ['queued', 'cancelled'],
  ['completed', 'edited'],
  ['completed', 'stale'],
  ['failed', 'stale'],
  ...EXECUTION_STATUSES.filter((s) => s !== 'deleted').map((s): [ExecutionStatus, ExecutionStatus] => [s, 'deleted']),
];

describe('execution status transitions', () => {
  const pairs = EXECUTION_STATUSES.flatMap((from) => EXECUTION_STATUSES.map((to) => [from, to] as const));

  it.each(pairs)('%s -> %s', (from, to) => {
    const expected = ALLOWED.some(([a, b]) => a === from && b === to);
    expect(canTransition(from, to)).toBe(expected);
  });

  it('lists the sources of a target status for conditional updates', () => {
    expect(allowedSources('cancelled').sort()).toEqual(['cancel_requested', 'queued']);
    expect(allowedSources('stale').sort()).toEqual(['completed', 'failed']);
    expect(allowedSources('deleted')).not.toContain('deleted');
  });

  it('counts running, awaiting_input and cancel_requested against the concurrency limit', () => {
    expect(EXECUTION_STATUSES.filter(isActive).sort()).toEqual(['awaiting_input', 'cancel_requested', 'running']);
  });
});
