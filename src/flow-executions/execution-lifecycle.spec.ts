import type { EntityManager } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import type { AppError } from '../common/errors/app-error';
import type { CommittedEvent, MetricsService } from '../common/metrics/metrics.service';
import type { EventLog, LogEvent } from '../event-log/event-log.service';
import type { OrganizationsService, Slots } from '../organizations/organizations.service';
import type { FlowExecutionRow } from './dto/flow-execution.dto';
import { ChangedRow, ExecutionLifecycle } from './execution-lifecycle';
import { ExecutionStatus, isActive } from './execution-status';
import type { FlowExecutionsRepository } from './flow-executions.repository';

const ORG = '00000000-0000-4000-8000-00000000000a';
const OTHER_ORG = '00000000-0000-4000-8000-00000000000b';
// Alone, PATCH, cancel and delete run these rules in one SQL statement (change_flow_execution_status, held equal to
// `decide` by test/e2e/status-change.e2e-spec.ts); in a caller's transaction they take the path specified here.
const IN_TRANSACTION = {} as EntityManager;
const principal: Principal = { subject: 'caller', organizationId: ORG, role: 'backoffice', credential: 'jwt' };

/**
 * The database as the lifecycle sees it, in memory: runs, the organizations' limits and counters
 * (kept as the triggers keep them), and what was written besides.
 */
class World {
  runs = new Map<string, FlowExecutionRow>();
  organizations = new Map<string, { limit: number | null; active: number; lockedElsewhere?: boolean }>();
  events: { type: string; id: string; status: string; previous: string | null }[] = [];
  touched: string[] = [];
  retiredTags: string[] = [];
  restarted: { id: string; onlyStale: boolean }[] = [];
  redriven: { id: string; tasks: string[] | null }[] = [];
  expired = new Set<string>();
  private clock = 0;

  run(status: ExecutionStatus, organizationId = ORG): FlowExecutionRow {
    const id = `run-${this.runs.size + 1}`;
    const row = {
      id,
      organization_id: organizationId,
      flow_id: 'flow',
      flow_version: 1,
      status,
      input: '{}',
      run_number: this.runs.size + 1,
      redrive_count: 0,
    } as FlowExecutionRow;
    row.created_at = row.updated_at = String(this.clock++);
    this.runs.set(id, row);
    const org = this.org(organizationId);
    if (isActive(status)) org.active++;
    return row;
  }

  org(id: string) {
    if (!this.organizations.has(id)) this.organizations.set(id, { limit: null, active: 0 });
    return this.organizations.get(id)!;
  }

  status(id: string): ExecutionStatus {
    return this.runs.get(id)!.status;
  }

  write(id: string, status: ExecutionStatus, modifiedBy?: string, flowVersion?: number | null, redrives = 0): FlowExecutionRow {
    const before = this.runs.get(id)!;
    const after = {
      ...before,
      redrive_count: before.redrive_count + redrives,
      status,
      modified_by: modifiedBy ?? before.modified_by,
      flow_version: flowVersion ?? before.flow_version,
      updated_at: String(this.clock++),
    };
    this.runs.set(id, after);
    this.org(after.organization_id).active += Number(isActive(status)) - Number(isActive(before.status));
    return after;
  }

  repository(): FlowExecutionsRepository {
    const copy = (row: FlowExecutionRow | undefined) => row && { ...row };
    const fake: Partial<Record<keyof FlowExecutionsRepository, unknown>> = {
      lockForUpdate: async (_m: EntityManager, id: string) => copy(this.runs.get(id)),
      lockShared: async (_m: EntityManager, ids: string[]) => [...ids].sort().flatMap((id) => (this.runs.has(id) ? [copy(this.runs.get(id))] : [])),
      lockKeyShare: async () => undefined,
      setStatus: async (
        _m: EntityManager,
        id: string,
        move: { from: ExecutionStatus[]; to: ExecutionStatus },
        modifiedBy: string,
        flowVersion: number | null,
        _trace: unknown = null,
        redrives = 0,
      ) => (move.from.includes(this.status(id)) ? copy(this.write(id, move.to, modifiedBy, flowVersion, redrives)) : undefined),
      retireTags: async (_m: EntityManager, ids: string[]) => void this.retiredTags.push(...ids),
      restartTasks: async (_m: EntityManager, id: string, onlyStale: boolean) => void this.restarted.push({ id, onlyStale }),
      redriveTasks: async (_m: EntityManager, id: string, tasks: string[] | null) => void this.redriven.push({ id, tasks }),
      promoteWaiting: async (_m: EntityManager, organizationId: string, limit: number) => {
        const queued = [...this.runs.values()].filter((r) => r.organization_id === organizationId && r.status === 'queued');
        const free = Math.max(0, limit - this.org(organizationId).active);
        return queued.slice(0, free).map((r) => copy(this.write(r.id, 'running')));
      },
      findExpired: async () => [...this.expired].map((id) => ({ id, organization_id: this.runs.get(id)!.organization_id })),
      deleteExpired: async (_m: EntityManager, ids: string[]) =>
        ids
          .filter((id) => this.expired.has(id))
          .map((id) => {
            const previous = this.status(id);
            this.expired.delete(id);
            return { ...this.write(id, 'deleted', 'retention'), previous_status: previous };
          }),
    };
    return fake as unknown as FlowExecutionsRepository;
  }

  organizationsService(): OrganizationsService {
    const slots = (id: string): Slots => ({ organizationId: id, limit: this.org(id).limit ?? 2, active: this.org(id).active });
    const fake: Partial<Record<keyof OrganizationsService, unknown>> = {
      defaultLimit: 2,
      lock: async (_m: EntityManager, id: string) => slots(id),
      tryLock: async (_m: EntityManager, id: string) => (this.org(id).lockedElsewhere ? null : slots(id)),
      setLimit: async (_m: EntityManager, s: Slots, limit: number) => {
        this.org(s.organizationId).limit = limit;
        s.limit = limit;
      },
    };
    return fake as unknown as OrganizationsService;
  }

  eventLog(): EventLog {
    const fake: Partial<Record<keyof EventLog, unknown>> = {
      transaction: async <T>(fn: (m: EntityManager) => Promise<T>) => fn({} as EntityManager),
      record: (_m: EntityManager, ...events: LogEvent[]) => {
        for (const e of events) this.events.push({ type: e.type, id: e.flowExecutionId, status: e.status, previous: e.previousStatus });
      },
      touch: (_m: EntityManager, _organizationId: string, id: string) => void this.touched.push(id),
    };
    return fake as unknown as EventLog;
  }
}

function setup() {
  const world = new World();
  const lifecycle = new ExecutionLifecycle(world.repository(), world.organizationsService(), world.eventLog(), {
    eventsCommitted: () => undefined,
  } as unknown as MetricsService);
  return { world, lifecycle };
}

async function refusedWith(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  const error = (await promise.then(
    () => null,
    (e: AppError) => e,
  )) as AppError | null;
  if (!error) throw new Error('expected a refusal');
  return { status: error.status, message: error.message };
}

describe('ExecutionLifecycle', () => {
  describe('one run, one cause', () => {
    it('frees the slot of an ended run and admits the oldest waiting one, events in that order', async () => {
      const { world, lifecycle } = setup();
      const [a] = [world.run('running'), world.run('running')];
      const [older, newer] = [world.run('queued'), world.run('queued')];

      const after = await lifecycle.change(principal, a.id, { cause: 'patch', to: 'completed' }, IN_TRANSACTION);

      expect(after.status).toBe('completed');
      expect([world.status(older.id), world.status(newer.id)]).toEqual(['running', 'queued']);
      expect(world.events).toEqual([
        { type: 'flow_execution.status_changed', id: a.id, status: 'completed', previous: 'running' },
        { type: 'flow_execution.status_changed', id: older.id, status: 'running', previous: 'queued' },
      ]);
      expect(world.org(ORG).active).toBe(2);
    });

    it('refuses to start a queued run at the limit, and writes nothing', async () => {
      const { world, lifecycle } = setup();
      world.run('running');
      world.run('running');
      const waiting = world.run('queued');

      expect(await refusedWith(lifecycle.change(principal, waiting.id, { cause: 'patch', to: 'running' }, IN_TRANSACTION))).toEqual({
        status: 409,
        message: "Cannot change status from 'queued' to 'running': the organization is at its concurrency limit",
      });
      expect([world.status(waiting.id), world.events]).toEqual(['queued', []]);
    });

    it("judges a PATCH that is a user's decision on the locked status: a worker reports, it does not cancel", async () => {
      const { world, lifecycle } = setup();
      const worker: Principal = { ...principal, subject: 'worker-1', role: 'worker' };
      const [running, cancelling] = [world.run('running'), world.run('cancel_requested')];

      expect(await refusedWith(lifecycle.change(worker, running.id, { cause: 'patch', to: 'cancel_requested' }, IN_TRANSACTION))).toEqual({
        status: 403,
        message: "Changing status from 'running' to 'cancel_requested' needs permission 'executions:write', which role 'worker' does not have",
      });
      await lifecycle.change(worker, cancelling.id, { cause: 'patch', to: 'cancelled' }, IN_TRANSACTION);

      expect([world.status(running.id), world.status(cancelling.id)]).toEqual(['running', 'cancelled']);
      expect(world.events.map((e) => `${e.previous}->${e.status}`)).toEqual(['cancel_requested->cancelled']);
    });

    it('cancels once: asking again changes nothing and is no error', async () => {
      const { world, lifecycle } = setup();
      const run = world.run('awaiting_input');

      await lifecycle.change(principal, run.id, { cause: 'cancel' }, IN_TRANSACTION);
      await lifecycle.change(principal, run.id, { cause: 'cancel' }, IN_TRANSACTION);

      expect(world.status(run.id)).toBe('cancel_requested');
      expect(world.events.map((e) => `${e.previous}->${e.status}`)).toEqual(['awaiting_input->cancel_requested']);
      expect(await refusedWith(lifecycle.change(principal, world.run('completed').id, { cause: 'cancel' }, IN_TRANSACTION))).toEqual({
        status: 409,
        message: "Cannot cancel a flow execution in status 'completed'",
      });
    });

    it('re-executes a running run in place: new version, tasks restarted, waiters woken without an event', async () => {
      const { world, lifecycle } = setup();
      const run = world.run('running');

      await lifecycle.change(principal, run.id, { cause: 're_execute', flowVersion: 3, onlyStale: true });

      expect(world.runs.get(run.id)).toMatchObject({ status: 'running', flow_version: 3, modified_by: 'caller' });
      expect([world.events, world.touched, world.restarted]).toEqual([[], [run.id], [{ id: run.id, onlyStale: true }]]);
    });

    it('re-executes an ended run into a free slot, or queues it behind the others', async () => {
      const { world, lifecycle } = setup();
      world.run('running');
      const [first, second] = [world.run('failed'), world.run('cancelled')];

      await lifecycle.change(principal, first.id, { cause: 're_execute', flowVersion: 1, onlyStale: false });
      await lifecycle.change(principal, second.id, { cause: 're_execute', flowVersion: 1, onlyStale: false });

      expect([world.status(first.id), world.status(second.id)]).toEqual(['running', 'queued']);
      expect(world.events.map((e) => `${e.previous}->${e.status}`)).toEqual(['failed->running', 'cancelled->queued']);
    });

    it('redrives a failed or cancelled run into a free slot or behind the others, counting it, its tasks reset, the event naming redrive', async () => {
      const { world, lifecycle } = setup();
      world.run('running');
      const [failed, cancelled, completed] = [world.run('failed'), world.run('cancelled'), world.run('completed')];

      const after = await lifecycle.change(principal, failed.id, { cause: 'redrive', tasks: null });
      await lifecycle.change(principal, cancelled.id, { cause: 'redrive', tasks: ['extract', 'review'] });

      expect(after).toMatchObject({ id: failed.id, status: 'running', redrive_count: 1, run_number: failed.run_number });
      expect([world.status(cancelled.id), world.runs.get(cancelled.id)!.redrive_count]).toEqual(['queued', 1]);
      expect(world.events.map((e) => `${e.previous}->${e.status}`)).toEqual(['failed->running', 'cancelled->queued']);
      expect(world.redriven).toEqual([
        { id: failed.id, tasks: null },
        { id: cancelled.id, tasks: ['extract', 'review'] },
      ]);
      expect(await refusedWith(lifecycle.change(principal, completed.id, { cause: 'redrive', tasks: null }))).toEqual({
        status: 409,
        message: "Cannot redrive a flow execution in status 'completed': only failed and cancelled runs can be redriven",
      });
      expect(world.redriven).toHaveLength(2);
    });

    it('deletes: the deleted event, the tags retired, and the slot handed on', async () => {
      const { world, lifecycle } = setup();
      const [running] = [world.run('running'), world.run('running')];
      const waiting = world.run('queued');

      await lifecycle.change(principal, running.id, { cause: 'delete' }, IN_TRANSACTION);

      expect(world.events.map((e) => e.type)).toEqual(['flow_execution.deleted', 'flow_execution.status_changed']);
      expect([world.retiredTags, world.status(waiting.id)]).toEqual([[running.id], 'running']);
    });

    it('ignores causes that follow from tasks when the run is elsewhere: no write, no event', async () => {
      const { world, lifecycle } = setup();
      const run = world.run('running');
      const locked = await lifecycle.lockRun({} as EntityManager, principal, run.id);

      await lifecycle.apply({} as EntityManager, locked, { cause: 'webhook_data' }, principal);
      await lifecycle.apply({} as EntityManager, locked, { cause: 'task_edited' }, principal);
      expect([world.status(run.id), world.events]).toEqual(['running', []]);

      await lifecycle.apply({} as EntityManager, locked, { cause: 'task_awaiting_input' }, principal);
      await lifecycle.apply({} as EntityManager, locked, { cause: 'webhook_data' }, principal);
      expect(world.events.map((e) => `${e.previous}->${e.status}`)).toEqual(['running->awaiting_input', 'awaiting_input->running']);
      expect(locked.row.status).toBe('running');
    });

    it('keeps the locked run and its slots current across changes in one transaction', async () => {
      const { world, lifecycle } = setup();
      world.run('running');
      const run = world.run('running');
      const locked = await lifecycle.lockRun({} as EntityManager, principal, run.id);
      expect(locked.slots).toMatchObject({ limit: 2, active: 2 });

      await lifecycle.apply({} as EntityManager, locked, { cause: 'patch', to: 'completed' }, principal);
      expect(locked.slots.active).toBe(1);
      await lifecycle.apply({} as EntityManager, locked, { cause: 're_execute', flowVersion: 2, onlyStale: false }, principal);
      expect([locked.row.status, locked.slots.active, world.org(ORG).active]).toEqual(['running', 2, 2]);
    });
  });

  describe('access: 404 before 403, decided once', () => {
    it('answers 404 for a missing or deleted run, whatever its organization, and 403 for another organization', async () => {
      const { world, lifecycle } = setup();
      const foreign = world.run('running', OTHER_ORG);
      const deletedForeign = world.run('deleted', OTHER_ORG);
      const m = {} as EntityManager;

      expect((await refusedWith(lifecycle.lockRun(m, principal, 'nope'))).status).toBe(404);
      expect((await refusedWith(lifecycle.lockRun(m, principal, deletedForeign.id))).status).toBe(404);
      expect((await refusedWith(lifecycle.lockRun(m, principal, foreign.id))).status).toBe(403);
      expect(world.status(foreign.id)).toBe('running');
    });

    it('decides a batch the same way: absent runs first (each named), then another organization', async () => {
      const { world, lifecycle } = setup();
      const mine = world.run('running');
      const foreign = world.run('running', OTHER_ORG);
      const m = {} as EntityManager;

      const missing = lifecycle.shareRuns(m, principal, [mine.id, foreign.id, 'nope']);
      await expect(missing).rejects.toMatchObject({ status: 404, details: [{ flow_execution_id: 'nope' }] });
      await expect(lifecycle.shareRuns(m, principal, [mine.id, foreign.id])).rejects.toMatchObject({ status: 403 });
      expect([...(await lifecycle.shareRuns(m, principal, [mine.id])).keys()]).toEqual([mine.id]);
    });
  });

  describe('organizations and sweeps', () => {
    it('admits waiting runs, oldest first, when the limit is raised', async () => {
      const { world, lifecycle } = setup();
      world.run('running');
      world.run('running');
      const queued = [world.run('queued'), world.run('queued'), world.run('queued')];

      await lifecycle.setConcurrencyLimit({} as EntityManager, ORG, 4);

      expect(queued.map((r) => world.status(r.id))).toEqual(['running', 'running', 'queued']);
      expect(world.events.map((e) => e.id)).toEqual([queued[0].id, queued[1].id]);
    });

    it('retires expired runs with their events and tags, skipping an organization another transaction holds', async () => {
      const { world, lifecycle } = setup();
      const [a, b] = [world.run('completed'), world.run('failed')];
      const elsewhere = world.run('cancelled', OTHER_ORG);
      for (const run of [a, b, elsewhere]) world.expired.add(run.id);
      world.org(OTHER_ORG).lockedElsewhere = true;

      const due = await lifecycle.expired(10);
      expect(
        await lifecycle.retireExpired(
          ORG,
          due.filter((d) => d.organization_id === ORG).map((d) => d.id),
        ),
      ).toBe(2);
      expect(await lifecycle.retireExpired(OTHER_ORG, [elsewhere.id])).toBe(0);

      expect(world.events).toEqual([
        { type: 'flow_execution.deleted', id: a.id, status: 'deleted', previous: 'completed' },
        { type: 'flow_execution.deleted', id: b.id, status: 'deleted', previous: 'failed' },
      ]);
      expect([world.retiredTags, world.status(elsewhere.id)]).toEqual([[a.id, b.id], 'cancelled']);
    });
  });

  describe('a batch in one statement (changeEach)', () => {
    /** A lifecycle over a statement that answers `answers`; what it was asked, and what was handed to the event log and the metrics. */
    function batch(answers: ChangedRow[][]) {
      const seen = { asked: [] as { id: string; reason: string }[], written: [] as CommittedEvent[], countedNow: 0 };
      const repository = {
        changeStatusWithin: async (_m: EntityManager, changes: { id: string; reason: string }[]) => {
          seen.asked = changes.map(({ id, reason }) => ({ id, reason }));
          return answers;
        },
      } as unknown as FlowExecutionsRepository;
      const events = { written: (_m: EntityManager, events: CommittedEvent[]) => seen.written.push(...events) } as unknown as EventLog;
      const metrics = { eventsCommitted: () => seen.countedNow++ } as unknown as MetricsService;
      const lifecycle = new ExecutionLifecycle(repository, { defaultLimit: 10 } as OrganizationsService, events, metrics);
      return { lifecycle, seen };
    }
    const row = (id: string, status: ExecutionStatus) => ({ id, status, organization_id: ORG }) as FlowExecutionRow;

    it('answers each run as a cancel alone would: its row, a 409, or a 404 for a run gone since, even with no row at all', async () => {
      const { lifecycle, seen } = batch([
        [{ outcome: 'moved', previous_status: 'running', refused_to: null, row: row('a', 'cancel_requested') }],
        [{ outcome: 'refused_transition', previous_status: 'completed', refused_to: null, row: row('b', 'completed') }],
        [{ outcome: 'inaccessible', previous_status: null, refused_to: null, row: undefined }],
        [{ outcome: 'inaccessible', previous_status: null, refused_to: null, row: row('d', 'deleted') }],
      ]);
      const answers = await lifecycle.changeEach(IN_TRANSACTION, principal, ['a', 'b', 'c', 'd'], { cause: 'cancel' });

      expect(seen.asked).toEqual(['a', 'b', 'c', 'd'].map((id) => ({ id, reason: 'cancel' })));
      expect((answers[0] as FlowExecutionRow).status).toBe('cancel_requested');
      expect(answers.slice(1).map((a) => (a as AppError).code)).toEqual(['conflict', 'not_found', 'not_found']);
      // The 409 says what the same cancel says run by run.
      const { world, lifecycle: alone } = setup();
      const single = await refusedWith(alone.change(principal, world.run('completed').id, { cause: 'cancel' }, IN_TRANSACTION));
      expect([(answers[1] as AppError).status, (answers[1] as AppError).message]).toEqual([single.status, single.message]);
      // Counted when the event log's transaction commits, not before.
      expect([seen.written, seen.countedNow]).toEqual([[{ type: 'flow_execution.status_changed', status: 'cancel_requested', previousStatus: 'running' }], 0]);
    });

    it('counts a delete and the runs it admitted into the freed slot', async () => {
      const { lifecycle, seen } = batch([
        [
          { outcome: 'moved', previous_status: 'running', refused_to: null, row: row('a', 'deleted') },
          { outcome: 'admitted', previous_status: 'queued', refused_to: null, row: row('q', 'running') },
        ],
        [{ outcome: 'unchanged', previous_status: 'deleted', refused_to: null, row: row('b', 'deleted') }],
      ]);
      const answers = await lifecycle.changeEach(IN_TRANSACTION, principal, ['a', 'b'], { cause: 'delete' });

      expect(answers.map((a) => (a as FlowExecutionRow).id)).toEqual(['a', 'b']);
      expect(seen.written).toEqual([
        { type: 'flow_execution.deleted', status: 'deleted', previousStatus: 'running' },
        { type: 'flow_execution.status_changed', status: 'running', previousStatus: 'queued' },
      ]);
    });
  });
});
