import { AppError, conflict } from '../common/errors/app-error';
import { EXECUTION_STATUSES, ExecutionStatus, isActive, TERMINAL_STATUSES } from './execution-status';

/** Why a run's status changes: every change names its cause, and the cause's rule decides it. */
export const CAUSES = [
  'create',
  'admit',
  'patch',
  'cancel',
  'delete',
  're_execute',
  'task_awaiting_input',
  'task_edited',
  'webhook_data',
  'retention',
  'timeout',
  'redrive',
] as const;
export type Cause = (typeof CAUSES)[number];

/** The status a run has before it exists: the source of the create's move. */
export const NEW = 'new';
export type Source = ExecutionStatus | typeof NEW;

export interface Move {
  from: readonly Source[];
  to: ExecutionStatus;
}

export interface CauseRule {
  /** The moves the cause may make; the first whose `from` holds the run's status applies (PATCH: the one to the asked status). */
  moves: readonly Move[];
  /** Statuses in which the cause changes nothing and is no error: asking again. */
  unchanged?: readonly ExecutionStatus[];
  /** Any other status: a 409 (someone asked for exactly this), or nothing (the cause follows from something else, which goes on). */
  otherwise: 'refuse' | 'ignore';
  /**
   * A move from a status without a concurrency slot into one with (`ACTIVE_STATUSES`) needs a free
   * slot; without one the run waits `queued` instead, or the move is refused (the default).
   */
  withoutSlot?: 'queue' | 'refuse';
  /** A move to the status the run has is written, and wakes its waiters without an event (re-execution changes version and tasks). */
  sameStatus?: 'touch';
}

const LIVE = EXECUTION_STATUSES.filter((s) => s !== 'deleted');

/**
 * The lifecycle of a run, every cause in one table (the contract's `ExecutionStatus` moves are
 * the `patch` row). The one source of these rules: the writes get their allowed sources from it
 * (`sources`), and `start_flow_execution` makes the `create` move in SQL.
 */
export const RULES: Record<Cause, CauseRule> = {
  /** A new run: running when a slot is free, else it waits (start_flow_execution, in SQL). */
  create: { moves: [{ from: [NEW], to: 'running' }], otherwise: 'refuse', withoutSlot: 'queue' },
  /** A freed slot or a raised limit: the oldest waiting runs start. */
  admit: { moves: [{ from: ['queued'], to: 'running' }], otherwise: 'ignore', withoutSlot: 'queue' },
  /** `PATCH .../status`: a worker's report or a decision, exactly as asked. */
  patch: {
    moves: [
      { from: ['queued'], to: 'running' },
      { from: ['running'], to: 'completed' },
      { from: ['running'], to: 'failed' },
      { from: ['running', 'awaiting_input'], to: 'cancel_requested' },
      { from: ['queued', 'cancel_requested'], to: 'cancelled' },
      { from: ['completed'], to: 'edited' },
      { from: ['completed', 'failed'], to: 'stale' },
      { from: LIVE, to: 'deleted' },
    ],
    otherwise: 'refuse',
  },
  /** `POST .../cancel`: a waiting run is cancelled at once, a working one asked to stop. */
  cancel: {
    moves: [
      { from: ['queued'], to: 'cancelled' },
      { from: ['running', 'awaiting_input'], to: 'cancel_requested' },
    ],
    unchanged: ['cancel_requested'],
    otherwise: 'refuse',
  },
  /** `DELETE`: a soft delete; deleting again changes nothing. */
  delete: { moves: [{ from: LIVE, to: 'deleted' }], unchanged: ['deleted'], otherwise: 'refuse' },
  /** `POST .../execute` (and a task update's `execute_flow`): the run again, on the latest version. */
  re_execute: {
    moves: [{ from: ['queued', 'running', 'awaiting_input', 'completed', 'failed', 'stale', 'edited', 'cancelled'], to: 'running' }],
    otherwise: 'refuse',
    withoutSlot: 'queue',
    sameStatus: 'touch',
  },
  /** A worker reports a task awaiting input. */
  task_awaiting_input: { moves: [{ from: ['running'], to: 'awaiting_input' }], otherwise: 'ignore' },
  /** A completed task's output is edited. */
  task_edited: { moves: [{ from: ['completed'], to: 'edited' }], otherwise: 'ignore' },
  /** Webhook data completes the task the run waits on. */
  webhook_data: { moves: [{ from: ['awaiting_input'], to: 'running' }], otherwise: 'ignore' },
  /** The flow's `settings.ttl.seconds` passed since the run ended (the sweep picks only those). */
  retention: { moves: [{ from: TERMINAL_STATUSES, to: 'deleted' }], otherwise: 'ignore' },
  /**
   * A timeout of the flow's `settings.timeouts` fired (the liveness sweep): the run fails, or ends
   * cancelled when a cancel was asked, whichever timeout it is (docs/api.md#timeouts).
   */
  timeout: {
    moves: [
      { from: ['running', 'awaiting_input'], to: 'failed' },
      { from: ['cancel_requested'], to: 'cancelled' },
    ],
    otherwise: 'ignore',
  },
  /** `POST .../redrive`: a failed or cancelled run resumes where it stopped, on its pinned version. */
  redrive: { moves: [{ from: ['failed', 'cancelled'], to: 'running' }], otherwise: 'refuse', withoutSlot: 'queue' },
};

export type Decision =
  { kind: 'move'; to: ExecutionStatus } | { kind: 'unchanged' } | { kind: 'refused'; reason: 'transition' | 'no_slot'; to: ExecutionStatus | null };

/**
 * What `cause` does to a run in status `from`. `slotFree`: the organization has a free slot;
 * `asked`: the status a PATCH asks for.
 */
export function decide(cause: Cause, from: Source, slotFree: boolean, asked?: ExecutionStatus): Decision {
  const rule = RULES[cause];
  if (from !== NEW && rule.unchanged?.includes(from)) return { kind: 'unchanged' };
  const move = rule.moves.find((m) => (asked === undefined || m.to === asked) && m.from.includes(from));
  if (!move) return rule.otherwise === 'refuse' ? { kind: 'refused', reason: 'transition', to: asked ?? null } : { kind: 'unchanged' };
  let to = move.to;
  if (takesSlot(from, to) && !slotFree) {
    if (rule.withoutSlot !== 'queue') return { kind: 'refused', reason: 'no_slot', to };
    to = 'queued';
  }
  if (to === from && rule.sameStatus !== 'touch') return { kind: 'unchanged' };
  return { kind: 'move', to };
}

/** The statuses from which `cause` moves a run to `to`: the condition of its conditional write. */
export function sources(cause: Cause, to: ExecutionStatus): ExecutionStatus[] {
  const from = new Set(RULES[cause].moves.filter((m) => m.to === to).flatMap((m) => m.from));
  return EXECUTION_STATUSES.filter((s) => from.has(s));
}

/** Moving into a status that holds a slot from one that does not. */
export function takesSlot(from: Source, to: ExecutionStatus): boolean {
  return !(from !== NEW && isActive(from)) && isActive(to);
}

/** Leaving a status that holds a slot for one that does not: the oldest waiting run may start. */
export function freesSlot(from: Source, to: ExecutionStatus): boolean {
  return from !== NEW && isActive(from) && !isActive(to);
}

/** The 409 of a refused decision, in the words of the endpoint that asked. */
export function refusal(cause: Cause, from: Source, decision: Extract<Decision, { kind: 'refused' }>): AppError {
  const to = decision.to;
  if (decision.reason === 'no_slot') {
    return conflict(`Cannot change status from '${from}' to '${to}': the organization is at its concurrency limit`);
  }
  switch (cause) {
    case 'cancel':
      return conflict(`Cannot cancel a flow execution in status '${from}'`);
    case 'redrive':
      return conflict(`Cannot redrive a flow execution in status '${from}': only failed and cancelled runs can be redriven`, {
        current_status: from,
      });
    case 're_execute':
      return conflict(`Cannot re-execute a flow execution in status '${from}'${from === 'cancel_requested' ? ': its cancellation is in progress' : ''}`);
    default:
      return illegalTransition(from, to ?? from);
  }
}

function illegalTransition(from: Source, to: ExecutionStatus | Source): AppError {
  return conflict(`Cannot change status from '${from}' to '${to}'`, { current_status: from, requested_status: to });
}
