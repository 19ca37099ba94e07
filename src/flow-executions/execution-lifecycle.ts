import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { missingPermission, statusMovePermissions } from '../common/auth/permissions';
import type { Principal } from '../common/auth/principal';
import type { TraceContext } from '../common/http/trace-context';
import { AppError, forbidden } from '../common/errors/app-error';
import { keyTakenOver, OwnedKey } from '../common/idempotency/idempotency.context';
import { CommittedEvent, MetricsService } from '../common/metrics/metrics.service';
import { EventLog } from '../event-log/event-log.service';
import { OrganizationsService, Slots } from '../organizations/organizations.service';
import type { FlowExecutionRow } from './dto/flow-execution.dto';
import { accessible, allAccessible } from './execution-access';
import { statusChangeEvent } from './execution-events';
import { ACTIVE_STATUSES, EXECUTION_STATUSES, ExecutionStatus, isActive } from './execution-status';
import { ChangedRow, DueExecution, ExpiredExecution, FlowExecutionsRepository, NewExecution, RunHead, StatusChange } from './flow-executions.repository';
import { Cause, decide, freesSlot, refusal, RULES } from './transitions';

export type { ChangedRow, ChangeOutcome, RunHead } from './flow-executions.repository';

/**
 * A status change asked of one run: its cause, what the cause needs, and optionally a finer
 * `reason` for the status event than the cause's name.
 */
export type Change = (
  | { cause: 'patch'; to: ExecutionStatus }
  | { cause: 're_execute'; flowVersion: number; onlyStale: boolean; trace?: TraceContext | null }
  /** `tasks`: the tasks to run again whatever their status (`from_task` and its downstream), or null for every unfinished one. */
  | { cause: 'redrive'; tasks: string[] | null }
  | { cause: Exclude<Cause, 'patch' | 're_execute' | 'redrive' | 'create' | 'admit' | 'retention'> }
) & { reason?: string };

/** A run under its locks (organization, then run), with its organization's slots; kept current by `apply`. */
export interface LockedRun {
  row: FlowExecutionRow;
  slots: Slots;
}

/**
 * The one owner of a run's status. Every change, whatever its cause, goes through here: one lock
 * order (the organization's row, then the run's, then its tasks), one decision by the transition
 * table (`transitions.ts`), one conditional write, one place that records the event, and the
 * admission of waiting runs when a slot frees.
 */
@Injectable()
export class ExecutionLifecycle {
  constructor(
    private readonly repository: FlowExecutionsRepository,
    private readonly organizations: OrganizationsService,
    private readonly events: EventLog,
    private readonly metrics: MetricsService,
  ) {}

  /** The run's locks for a status change, in the one order: the organization's row, then the run's (404 / 403 decided on it). */
  async lockRun(m: EntityManager, principal: Principal, id: string): Promise<LockedRun> {
    const slots = await this.organizations.lock(m, principal.organizationId);
    return { slots, row: accessible(principal, await this.repository.lockForUpdate(m, id)) };
  }

  /**
   * A task writer's lock on the run (KEY SHARE): the row stays, and a status change neither waits
   * for it nor is waited for, so a writer holding the run's lock may then touch its tasks.
   */
  async shareRun(m: EntityManager, id: string): Promise<void> {
    await this.repository.lockKeyShare(m, id);
  }

  /** The same for several runs, in id order, once all are decided accessible. */
  async shareRuns(m: EntityManager, principal: Principal, ids: string[]): Promise<Map<string, FlowExecutionRow>> {
    return allAccessible(principal, ids, await this.repository.lockShared(m, ids));
  }

  /**
   * One run's change in a transaction of its own, or in the caller's (`within`). PATCH, cancel and
   * delete alone are one statement (`changeAlone`): they touch nothing but the run, its tags and the queue.
   */
  async change(principal: Principal, id: string, change: Change, within?: EntityManager): Promise<FlowExecutionRow> {
    if (!within && (change.cause === 'patch' || change.cause === 'cancel' || change.cause === 'delete')) return this.changeAlone(principal, id, change);
    const run = async (m: EntityManager) => this.apply(m, await this.lockRun(m, principal, id), change, principal);
    return within ? run(within) : this.events.transaction(run);
  }

  /**
   * Applies the change asked by `by` to a run locked by `lockRun`, in that transaction (an event
   * log's): decides by the table, writes, records the event (or only wakes waiters when the status
   * stays), makes the cause's effects on the run's tasks, and admits waiting runs into a freed slot
   * (unless `deferAdmission`: the caller then calls `admitWaiting` before it commits).
   */
  async apply(m: EntityManager, locked: LockedRun, change: Change, by: Principal, options: { deferAdmission?: boolean } = {}): Promise<FlowExecutionRow> {
    const before = locked.row;
    if (change.cause === 'patch') assertMayMove(by, before.status, change.to);
    const decision = decide(change.cause, before.status, locked.slots.active < locked.slots.limit, change.cause === 'patch' ? change.to : undefined);
    if (decision.kind === 'refused') throw refusal(change.cause, before.status, decision);
    if (decision.kind === 'unchanged') return before;

    const flowVersion = change.cause === 're_execute' ? change.flowVersion : null;
    const trace = change.cause === 're_execute' ? (change.trace ?? null) : null;
    const redrives = change.cause === 'redrive' ? 1 : 0;
    const after = await this.repository.setStatus(m, before.id, { from: [before.status], to: decision.to }, by.subject, flowVersion, trace, redrives);
    if (!after) throw new Error(`flow execution ${before.id} changed status under its lock`);
    locked.row = after;
    locked.slots.active += Number(isActive(after.status)) - Number(isActive(before.status));
    if (before.status === after.status) this.events.touch(m, after.organization_id, after.id);
    else this.events.record(m, statusChangeEvent(after, before.status, change.reason ?? change.cause));

    if (after.status === 'deleted') await this.repository.retireTags(m, [after.id]);
    if (change.cause === 're_execute') await this.repository.restartTasks(m, after.id, change.onlyStale);
    if (change.cause === 'redrive') await this.repository.redriveTasks(m, after.id, change.tasks);
    // A caller changing many runs in one transaction admits once at the end (admitWaiting).
    if (freesSlot(before.status, after.status) && !options.deferAdmission) await this.admit(m, locked.slots);
    return after;
  }

  /**
   * `apply` in one statement (change_flow_execution_status): the same lock order, the cause's rule of
   * the table passed as it is, the same write, tags, admissions and events, and the same answers.
   */
  private async changeAlone(principal: Principal, id: string, change: Change): Promise<FlowExecutionRow> {
    return this.settle(principal, change, await this.repository.changeStatus(this.statusChange(principal, id, change)));
  }

  /**
   * The parameters of change_flow_execution_status for `change`: the cause's rule of the table as
   * it is, and for a PATCH the statuses from which the caller may make the move. For a statement
   * that makes the change beside other writes (a task report), which then hands its rows to `settle`.
   */
  statusChange(principal: Principal, id: string, change: Change): StatusChange {
    const asked = change.cause === 'patch' ? change.to : null;
    return {
      organizationId: principal.organizationId,
      id,
      rule: RULES[change.cause],
      asked,
      permittedFrom: asked === null ? null : EXECUTION_STATUSES.filter((from) => !missingPermission(principal.role, statusMovePermissions(from, asked))),
      active: ACTIVE_STATUSES,
      modifiedBy: principal.subject,
      reason: change.reason ?? change.cause,
      defaultLimit: this.organizations.defaultLimit,
    };
  }

  /** What change_flow_execution_status answered, as `apply` answers: the run, or the error (404 / 403, 409), and the metrics of what committed. */
  settle(principal: Principal, change: Change, rows: ChangedRow[]): FlowExecutionRow {
    const row = answer(principal, change, rows);
    this.metrics.eventsCommitted(committedEvents(rows));
    return row;
  }

  /**
   * One cancel or delete of many runs of the principal's organization (a bulk action's batch) in one
   * statement, in the caller's transaction `m` (an event log's, whose metrics count the events once
   * it commits): for each of `ids`, in order, the run (its head) as `change` answers it alone, or its error.
   */
  async changeEach(m: EntityManager, principal: Principal, ids: string[], change: Change & { cause: 'cancel' | 'delete' }): Promise<(RunHead | AppError)[]> {
    const answers = await this.repository.changeStatusWithin(
      m,
      ids.map((id) => this.statusChange(principal, id, change)),
    );
    this.events.written(m, answers.flatMap(committedEvents));
    return answers.map((rows) => {
      try {
        return answer(principal, change, rows);
      } catch (err) {
        if (err instanceof AppError) return err;
        throw err;
      }
    });
  }

  /**
   * A new run (the `create` row): start_flow_execution decides running or queued under the
   * organization's lock and appends the created event, in one statement, if the version validated
   * against is still the flow's latest: `'stale'` when it is not or the flow is gone (nothing created).
   * The request's `Idempotency-Key` (`key`), if any, gets its outcome in that statement too (a 409
   * when a retry took the key over, and nothing is created).
   */
  async start(execution: NewExecution, key?: OwnedKey): Promise<FlowExecutionRow | 'stale'> {
    const keep = key && !key.storedForm ? key : undefined;
    const row = await this.repository.start(execution, this.organizations.defaultLimit, keep);
    if (row === 'key_lost') throw keyTakenOver(key!);
    if (row === 'stale') return row;
    if (keep) keep.kept = true;
    this.metrics.eventsCommitted([{ type: 'flow_execution.created', status: row.status, previousStatus: null }]);
    return row;
  }

  /** Sets the organization's own limit in the caller's (event log's) transaction; a raised one admits waiting runs at once. */
  async setConcurrencyLimit(m: EntityManager, organizationId: string, limit: number): Promise<void> {
    const slots = await this.organizations.lock(m, organizationId);
    await this.organizations.setLimit(m, slots, limit);
    await this.admit(m, slots);
  }

  /** Runs past their flow's TTL (the `retention` row), oldest first per flow, up to `limit`. */
  expired(limit: number): Promise<ExpiredExecution[]> {
    return this.repository.findExpired(limit);
  }

  /**
   * Deletes those of the organization's `ids` still past their TTL, in one transaction, never
   * waiting: an organization or a run another transaction holds is skipped (a sweep comes back).
   * Answers how many it deleted.
   */
  async retireExpired(organizationId: string, ids: string[]): Promise<number> {
    return this.events.transaction(async (m) => {
      const slots = await this.organizations.tryLock(m, organizationId);
      if (!slots) return 0;
      const rows = await this.repository.deleteExpired(m, ids);
      for (const { previous_status, ...row } of rows) this.events.record(m, statusChangeEvent(row, previous_status, 'retention'));
      if (rows.length > 0)
        await this.repository.retireTags(
          m,
          rows.map((row) => row.id),
        );
      if (rows.some((row) => freesSlot(row.previous_status, row.status))) await this.admit(m, slots);
      return rows.length;
    });
  }

  /** Runs whose own timeout is due (the `timeout` row), soonest first, up to `limit`. */
  due(limit: number): Promise<DueExecution[]> {
    return this.repository.findDue(limit);
  }

  /** Runs whose timeout passed more than `graceMs` ago, at most `cap`. */
  overdue(graceMs: number, cap: number): Promise<number> {
    return this.repository.countOverdue(graceMs, cap);
  }

  /** For sweeps that never wait: the organization's lock and slots, or null when another transaction holds it. */
  tryLockOrganization(m: EntityManager, organizationId: string): Promise<Slots | null> {
    return this.organizations.tryLock(m, organizationId);
  }

  /**
   * The runs' locks for the liveness sweep, their organization's (`slots`) held, skipping any
   * another transaction holds; `dueReason` names a run's own timeout when that is due now.
   */
  async tryLockDueRuns(m: EntityManager, slots: Slots, ids: string[]): Promise<{ locked: LockedRun; dueReason: string | null }[]> {
    const rows = await this.repository.tryLockDue(m, ids);
    return rows
      .filter((row) => row.organization_id === slots.organizationId)
      .map(({ due_reason: dueReason, ...row }) => ({ locked: { row, slots }, dueReason }));
  }

  /** The `admit` row once for changes applied with `deferAdmission` (its lock held). */
  async admitWaiting(m: EntityManager, slots: Slots): Promise<void> {
    if (slots.active < slots.limit) await this.admit(m, slots);
  }

  /** The `admit` row: the oldest waiting runs start while the organization has free slots (its lock held). */
  private async admit(m: EntityManager, slots: Slots): Promise<void> {
    const admitted = await this.repository.promoteWaiting(m, slots.organizationId, slots.limit);
    for (const row of admitted) this.events.record(m, statusChangeEvent(row, 'queued', 'admit'));
    slots.active += admitted.length;
  }
}

/** A PATCH that is a user's decision rather than a report (see statusMovePermissions) needs both permissions, judged on the locked status. */
function assertMayMove(principal: Principal, from: ExecutionStatus, to: ExecutionStatus): void {
  const missing = missingPermission(principal.role, statusMovePermissions(from, to));
  if (missing) {
    throw forbidden(`Changing status from '${from}' to '${to}' needs permission '${missing}', which role '${principal.role}' does not have`);
  }
}

/** The run change_flow_execution_status answered, or the error `apply` would throw (404 / 403, 409). */
function answer<R extends RunHead>(principal: Principal, change: Change, rows: ChangedRow<R>[]): R {
  const [{ outcome, previous_status: from, refused_to: to, row }] = rows;
  const asked = change.cause === 'patch' ? change.to : null;
  switch (outcome) {
    case 'inaccessible':
      accessible(principal, row);
      throw new Error(`flow execution ${row?.id} is accessible but was refused`);
    case 'denied':
      assertMayMove(principal, from!, asked!);
      throw new Error(`a move from '${from}' to '${asked}' was denied but is permitted`);
    case 'refused_transition':
    case 'refused_no_slot':
      throw refusal(change.cause, from!, { kind: 'refused', reason: outcome === 'refused_no_slot' ? 'no_slot' : 'transition', to });
  }
  return row!;
}

/** The events change_flow_execution_status wrote (a run moved, runs admitted), as the metrics count them; none for a refusal. */
function committedEvents(rows: ChangedRow<RunHead>[]): CommittedEvent[] {
  return rows
    .filter((r) => (r.outcome === 'moved' || r.outcome === 'admitted') && r.previous_status !== r.row!.status)
    .map((r) => ({
      type: r.row!.status === 'deleted' ? 'flow_execution.deleted' : 'flow_execution.status_changed',
      status: r.row!.status,
      previousStatus: r.previous_status,
    }));
}
