import { ACTIVE_STATUSES, EXECUTION_STATUSES, ExecutionStatus, isActive, TERMINAL_STATUSES } from './execution-status';
import { CAUSES, Cause, decide, Decision, freesSlot, NEW, refusal, RULES, Source, sources, takesSlot } from './transitions';

// The full table of docs/api.md#statuses-and-transitions; every pair not listed must be refused.
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

const FROM: Source[] = [NEW, ...EXECUTION_STATUSES];

/** A decision in one word: `running` (a move), `=` (nothing changes), `409`, `409 slot`. */
function outcome(d: Decision): string {
  if (d.kind === 'move') return d.to;
  if (d.kind === 'unchanged') return '=';
  return d.reason === 'no_slot' ? '409 slot' : '409';
}

/** Every cause but PATCH, from every status, with a free slot and without one (when it differs). */
const TABLE: Record<Exclude<Cause, 'patch'>, Partial<Record<Source, string | [string, string]>>> = {
  create: { new: ['running', 'queued'] },
  admit: { queued: ['running', '='] },
  cancel: {
    queued: 'cancelled',
    running: 'cancel_requested',
    awaiting_input: 'cancel_requested',
    cancel_requested: '=',
    deleted: '409',
    completed: '409',
    failed: '409',
    stale: '409',
    edited: '409',
    cancelled: '409',
  },
  delete: {
    queued: 'deleted',
    running: 'deleted',
    completed: 'deleted',
    failed: 'deleted',
    deleted: '=',
    stale: 'deleted',
    edited: 'deleted',
    awaiting_input: 'deleted',
    cancel_requested: 'deleted',
    cancelled: 'deleted',
  },
  re_execute: {
    queued: ['running', 'queued'],
    running: 'running',
    completed: ['running', 'queued'],
    failed: ['running', 'queued'],
    deleted: '409',
    stale: ['running', 'queued'],
    edited: ['running', 'queued'],
    awaiting_input: 'running',
    cancel_requested: '409',
    cancelled: ['running', 'queued'],
  },
  task_awaiting_input: { running: 'awaiting_input' },
  task_edited: { completed: 'edited' },
  webhook_data: { awaiting_input: 'running' },
  retention: { completed: 'deleted', failed: 'deleted', cancelled: 'deleted' },
  timeout: { running: 'failed', awaiting_input: 'failed', cancel_requested: 'cancelled' },
  // Only an ended run that did not succeed resumes; it takes a slot like a new run, or waits.
  redrive: { failed: ['running', 'queued'], cancelled: ['running', 'queued'] },
};

describe('the transition table', () => {
  describe('PATCH .../status (the contract)', () => {
    const pairs = EXECUTION_STATUSES.flatMap((from) => EXECUTION_STATUSES.map((to) => [from, to] as const));

    it.each(pairs)('%s -> %s', (from, to) => {
      const expected = ALLOWED.some(([a, b]) => a === from && b === to);
      expect(decide('patch', from, true, to)).toEqual(expected ? { kind: 'move', to } : { kind: 'refused', reason: 'transition', to });
    });

    it('refuses with a 409 naming both statuses', () => {
      const decision = decide('patch', 'failed', true, 'running') as Extract<Decision, { kind: 'refused' }>;
      const error = refusal('patch', 'failed', decision);
      expect([error.status, error.message, error.details]).toEqual([
        409,
        "Cannot change status from 'failed' to 'running'",
        { current_status: 'failed', requested_status: 'running' },
      ]);
    });

    it('starts a queued run only into a free slot', () => {
      const decision = decide('patch', 'queued', false, 'running');
      expect(decision).toEqual({ kind: 'refused', reason: 'no_slot', to: 'running' });
      expect(refusal('patch', 'queued', decision as Extract<Decision, { kind: 'refused' }>).message).toBe(
        "Cannot change status from 'queued' to 'running': the organization is at its concurrency limit",
      );
      expect(decide('patch', 'queued', false, 'cancelled')).toEqual({ kind: 'move', to: 'cancelled' });
    });
  });

  describe.each(Object.keys(TABLE) as Exclude<Cause, 'patch'>[])('%s', (cause) => {
    it.each(FROM)('from %s', (from) => {
      const expected = TABLE[cause][from] ?? (RULES[cause].otherwise === 'refuse' ? '409' : '=');
      const [withSlot, withoutSlot] = Array.isArray(expected) ? expected : [expected, expected];
      expect([outcome(decide(cause, from, true)), outcome(decide(cause, from, false))]).toEqual([withSlot, withoutSlot]);
    });
  });

  it('covers every cause', () => {
    expect(Object.keys(RULES).sort()).toEqual([...CAUSES].sort());
    expect([...Object.keys(TABLE), 'patch'].sort()).toEqual([...CAUSES].sort());
  });

  it('names one move per status and cause, apart from PATCH (which moves where it is asked)', () => {
    for (const cause of CAUSES.filter((c) => c !== 'patch')) {
      const from = RULES[cause].moves.flatMap((m) => m.from);
      expect(new Set(from).size).toBe(from.length);
      expect(from.filter((s) => RULES[cause].unchanged?.includes(s as ExecutionStatus))).toEqual([]);
    }
  });

  it('writes a run staying in its status only for re-execution, which changes its version and tasks', () => {
    expect(decide('re_execute', 'running', true)).toEqual({ kind: 'move', to: 'running' });
    expect(decide('re_execute', 'queued', false)).toEqual({ kind: 'move', to: 'queued' });
    expect(decide('admit', 'queued', false)).toEqual({ kind: 'unchanged' });
    expect(CAUSES.filter((c) => RULES[c].sameStatus === 'touch')).toEqual(['re_execute']);
  });

  it('refuses in the words of the endpoint that asked', () => {
    const refused = (cause: Cause, from: ExecutionStatus) => refusal(cause, from, decide(cause, from, true) as Extract<Decision, { kind: 'refused' }>).message;
    expect(refused('cancel', 'completed')).toBe("Cannot cancel a flow execution in status 'completed'");
    expect(refused('redrive', 'completed')).toBe("Cannot redrive a flow execution in status 'completed': only failed and cancelled runs can be redriven");
    expect(refused('redrive', 'running')).toBe("Cannot redrive a flow execution in status 'running': only failed and cancelled runs can be redriven");
    expect(refused('re_execute', 'cancel_requested')).toBe("Cannot re-execute a flow execution in status 'cancel_requested': its cancellation is in progress");
  });

  it('gives each write its allowed sources, in the order of the statuses', () => {
    expect(sources('patch', 'cancelled')).toEqual(['queued', 'cancel_requested']);
    expect(sources('patch', 'stale')).toEqual(['completed', 'failed']);
    expect(sources('patch', 'deleted')).not.toContain('deleted');
    expect(sources('admit', 'running')).toEqual(['queued']);
    expect(sources('retention', 'deleted')).toEqual([...TERMINAL_STATUSES]);
    expect(sources('create', 'running')).toEqual([]);
    expect(sources('redrive', 'running')).toEqual(['failed', 'cancelled']);
  });

  it('counts running, awaiting_input and cancel_requested against the concurrency limit', () => {
    expect(EXECUTION_STATUSES.filter(isActive).sort()).toEqual([...ACTIVE_STATUSES].sort());
    expect(EXECUTION_STATUSES.filter(isActive).sort()).toEqual(['awaiting_input', 'cancel_requested', 'running']);
    expect(takesSlot(NEW, 'running')).toBe(true);
    expect(takesSlot('awaiting_input', 'running')).toBe(false);
    expect(freesSlot('cancel_requested', 'cancelled')).toBe(true);
    expect(freesSlot('completed', 'deleted')).toBe(false);
  });

  it('ends a timed-out run failed, or cancelled when a cancel was asked, freeing its slot', () => {
    expect(sources('timeout', 'failed')).toEqual(['running', 'awaiting_input']);
    expect(sources('timeout', 'cancelled')).toEqual(['cancel_requested']);
    for (const from of ACTIVE_STATUSES) {
      const decision = decide('timeout', from, false);
      expect(decision.kind).toBe('move');
      expect(freesSlot(from, (decision as Extract<Decision, { kind: 'move' }>).to)).toBe(true);
    }
    expect(EXECUTION_STATUSES.filter((s) => !isActive(s)).map((s) => decide('timeout', s, true).kind)).toEqual(
      EXECUTION_STATUSES.filter((s) => !isActive(s)).map(() => 'unchanged'),
    );
  });

  it('never frees a slot by retention (it deletes ended runs only)', () => {
    expect(sources('retention', 'deleted').some((s) => freesSlot(s, 'deleted'))).toBe(false);
  });
});
