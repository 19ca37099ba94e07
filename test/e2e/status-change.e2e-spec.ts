import { Client } from 'pg';
import { withScratchDatabase } from '../../src/database/scratch-database';
import { ACTIVE_STATUSES, EXECUTION_STATUSES, ExecutionStatus } from '../../src/flow-executions/execution-status';
import { CAUSES, decide, Decision, RULES } from '../../src/flow-executions/transitions';
import { Change, ExecutionLifecycle } from '../../src/flow-executions/execution-lifecycle';
import { ChangedRow, FlowExecutionsRepository } from '../../src/flow-executions/flow-executions.repository';
import { Report, TaskExecutionsRepository } from '../../src/task-executions/task-executions.repository';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp, writesPerStatement } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';

/**
 * PATCH, cancel and delete decide in SQL (change_flow_execution_status), on the cause's rule passed
 * from the transition table: flow_execution_decision must answer what `decide` answers, for every
 * cause, status, slot and asked status.
 */
describe('the transition table read in SQL', () => {
  it('flow_execution_decision answers as decide() for every cause, status, free slot or not, and asked status', async () => {
    const mismatches = await withScratchDatabase(process.env.DATABASE_URL!, async (url) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        const cases = CAUSES.filter((cause) => cause !== 'create').flatMap((cause) =>
          EXECUTION_STATUSES.flatMap((from) =>
            [true, false].flatMap((slotFree) =>
              (cause === 'patch' ? EXECUTION_STATUSES : [undefined]).map((asked) => ({ cause, from, slotFree, asked: asked as ExecutionStatus | undefined })),
            ),
          ),
        );
        const { rows } = await client.query<{ n: number; kind: string; to_status: string | null; refusal: string | null }>(
          `SELECT c.n, d.kind, d.to_status, d.refusal
             FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS c (value, n),
                  LATERAL flow_execution_decision(c.value -> 'rule', c.value ->> 'from', (c.value ->> 'slotFree')::boolean, c.value ->> 'asked', $2) d
            ORDER BY c.n`,
          [JSON.stringify(cases.map((c) => ({ rule: RULES[c.cause], from: c.from, slotFree: c.slotFree, asked: c.asked ?? null }))), ACTIVE_STATUSES],
        );
        expect(rows).toHaveLength(cases.length);
        return cases.flatMap((c, i) => {
          const expected = decide(c.cause, c.from, c.slotFree, c.asked);
          const row = rows[i];
          const got: Decision =
            row.kind === 'move'
              ? { kind: 'move', to: row.to_status as ExecutionStatus }
              : row.kind === 'refused'
                ? { kind: 'refused', reason: row.refusal as 'transition' | 'no_slot', to: row.to_status as ExecutionStatus | null }
                : { kind: 'unchanged' };
          return JSON.stringify(got) === JSON.stringify(expected) ? [] : [{ ...c, expected, got }];
        });
      } finally {
        await client.end();
      }
    });
    expect(mismatches).toEqual([]);
  });
});

/** A report carrying a task awaiting input changes the run in the statement that records it: a refused report changes nothing. */
describe('a report that changes its run, in one statement', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('an unknown task, another organization or a deleted run: no status recorded, the run unchanged', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await createExecution(t, org.auth, flowId);
    expect(e.status).toBe('running');
    const report = (statuses: object[], who = org.auth('worker')) => t.http().post(`/api/flow-executions/${e.id}/task-status`).set(who).send({ statuses });
    const recorded = async () => (await t.dataSource.query(`SELECT count(*)::int AS n FROM flow_task_statuses WHERE flow_execution_id = $1`, [e.id]))[0].n;
    const runStatus = async () => (await t.dataSource.query(`SELECT status FROM flow_executions WHERE id = $1`, [e.id]))[0].status;

    await report([
      { task_name: 'extract', status: 'awaiting_input' },
      { task_name: 'ghost', status: 'running' },
    ]).expect(400);
    await report([{ task_name: 'extract', status: 'awaiting_input' }], other.auth('worker')).expect(403);
    expect([await recorded(), await runStatus()]).toEqual([0, 'running']);

    await report([{ task_name: 'extract', status: 'awaiting_input' }]).expect(200);
    expect([await recorded(), await runStatus()]).toEqual([1, 'awaiting_input']);
    // Asked again: the run stays, the status is recorded.
    await report([{ task_name: 'extract', status: 'awaiting_input' }]).expect(200);
    expect([await recorded(), await runStatus()]).toEqual([2, 'awaiting_input']);

    await t.http().delete(`/api/flow-executions/${e.id}`).set(org.auth()).expect(204);
    await report([{ task_name: 'extract', status: 'awaiting_input' }]).expect(404);
    expect([await recorded(), await runStatus()]).toEqual([2, 'deleted']);
  });
});

describe('reports of one organization in one statement', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const statuses = (names: string[]) => names.map((task_name, i) => ({ task_name, status: i % 2 ? 'completed' : 'running' }));

  it('answers each report handed over with others as it would alone, and writes those accepted in one transaction', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const [a, b, gone] = [await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId)];
    const foreign = await createExecution(t, other.auth, await createFlow(t, other.auth));
    await t.http().delete(`/api/flow-executions/${gone.id}`).set(org.auth()).expect(204);
    const repository = t.app.get(TaskExecutionsRepository);
    const report = (run: string, names: string[]) => repository.report(org.id, run, statuses(names));
    const before = await writesPerStatement(t, 'task_report');
    // Handed over in one turn of the event loop: the first goes alone, the others wait for it and go together.
    const [first, ...together] = await Promise.all([
      report(a.id, ['receive']),
      report(a.id, ['receive', 'extract']),
      report(b.id, ['review']),
      report(a.id, ['ghost']), // a name not in the run's version: nothing written, the version's names answered
      report(foreign.id, ['receive']), // another organization's run: nothing written
      report(gone.id, ['receive']), // a deleted run: nothing written
      report('00000000-0000-4000-8000-000000000000', ['receive']), // no such run
      report(b.id, ['extract', 'review', 'receive']),
    ]);
    const after = await writesPerStatement(t, 'task_report');
    expect([after.count - before.count, after.sum - before.sum]).toEqual([2, 8]);
    const written = (r: Report) => r.rows.map((row) => [row.flow_execution_id, row.task_name, row.status]);
    expect(written(first)).toEqual([[a.id, 'receive', 'running']]);
    expect(together.map(written)).toEqual([
      [
        [a.id, 'receive', 'running'],
        [a.id, 'extract', 'completed'],
      ],
      [[b.id, 'review', 'running']],
      [],
      [],
      [],
      [],
      [
        [b.id, 'extract', 'running'],
        [b.id, 'review', 'completed'],
        [b.id, 'receive', 'running'],
      ],
    ]);
    expect(together.map((r) => r.run && [r.run.organization_id, r.run.status, r.run.task_names])).toEqual([
      [org.id, 'running', null],
      [org.id, 'running', null],
      [org.id, 'running', ['receive', 'extract', 'review']],
      // Not accepted: the version's names come back whatever the reason, as from a report alone (the service answers 403, 404 first).
      [other.id, 'running', ['receive', 'extract', 'review']],
      [org.id, 'deleted', ['receive', 'extract', 'review']],
      undefined,
      [org.id, 'running', null],
    ]);
    for (const row of [first, ...together].flatMap((r) => r.rows)) expect(row).toMatchObject({ organization_id: org.id, created_at: expect.any(Date) });

    const rows: { id: string; txid: string; run: string; task_name: string }[] = await t.dataSource.query(
      `SELECT id, xmin::text AS txid, flow_execution_id AS run, task_name FROM flow_task_statuses
        WHERE flow_execution_id = ANY ($1) ORDER BY created_at`,
      [[a.id, b.id, gone.id, foreign.id]],
    );
    // The lone first, then the six accepted statuses in one transaction, in the order handed over.
    expect(rows.map((r) => r.id)).toEqual([first, ...together].flatMap((r) => r.rows.map((row) => row.id)));
    expect(rows.map((r) => r.txid).filter((txid) => txid !== rows[0].txid)).toHaveLength(6);
    expect(new Set(rows.slice(1).map((r) => r.txid)).size).toBe(1);
  });

  it('writes the others of a shared statement PostgreSQL refused for one of its reports; that one fails alone and writes nothing', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await createExecution(t, org.auth, flowId);
    const repository = t.app.get(TaskExecutionsRepository);
    const first = repository.report(org.id, e.id, statuses(['receive']));
    // A status longer than its column (the API's validation would have answered 422): the statement of the three is refused, then each goes alone.
    const together = ['running', 'x'.repeat(51), 'completed'].map((status) =>
      repository.report(org.id, e.id, [{ task_name: 'extract', status }]).then(
        (r) => r.rows.map((row) => row.status),
        (error: Error) => error.message,
      ),
    );
    await first;
    expect(await Promise.all(together)).toEqual([['running'], expect.stringContaining('too long'), ['completed']]);
    const rows: { status: string }[] = await t.dataSource.query(`SELECT status FROM flow_task_statuses WHERE flow_execution_id = $1 ORDER BY created_at`, [
      e.id,
    ]);
    expect(rows.map((r) => r.status)).toEqual(['running', 'running', 'completed']);
  });

  it('answers concurrent reports through the API each with its own outcome', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const runs = await Promise.all(Array.from({ length: 4 }, () => createExecution(t, org.auth, flowId)));
    const foreign = await createExecution(t, other.auth, await createFlow(t, other.auth));
    const worker = org.auth('worker');
    const post = (id: string, names: string[]) =>
      t
        .http()
        .post(`/api/flow-executions/${id}/task-status`)
        .set(worker)
        .send({ statuses: statuses(names) });
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        if (i % 10 === 3) return post(runs[i % 4].id, ['ghost']);
        if (i % 10 === 7) return post(foreign.id, ['receive']);
        return post(runs[i % 4].id, ['receive', 'extract']);
      }),
    );
    expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 10 === 3 ? 400 : i % 10 === 7 ? 403 : 200)));
    answers.forEach((r, i) => {
      if (r.status === 200)
        expect(r.body.map((s: { flow_execution_id: string; task_name: string }) => [s.flow_execution_id, s.task_name])).toEqual([
          [runs[i % 4].id, 'receive'],
          [runs[i % 4].id, 'extract'],
        ]);
    });
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM flow_task_statuses WHERE flow_execution_id = ANY ($1)`, [runs.map((r) => r.id)]);
    expect(n).toBe(32 * 2);
  });
});

describe('status changes of one organization in one statement', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('decides each change handed over with others on the run as the ones before it left it, in one transaction, as alone', async () => {
    const org = await newOrg();
    const other = await newOrg();
    await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 2 }).expect(200);
    const flowId = await createFlow(t, org.auth);
    const runs: { id: string; status: string }[] = [];
    for (let i = 0; i < 5; i++) runs.push(await createExecution(t, org.auth, flowId));
    expect(runs.map((r) => r.status)).toEqual(['running', 'running', 'queued', 'queued', 'queued']);
    const foreign = await createExecution(t, other.auth, await createFlow(t, other.auth));

    const lifecycle = t.app.get(ExecutionLifecycle);
    const repository = t.app.get(FlowExecutionsRepository);
    // A worker moves runs to their outcome; an administrator cancels.
    const ask = (id: string, change: Change) =>
      repository.changeStatus(
        lifecycle.statusChange(
          { subject: 'test', organizationId: org.id, role: change.cause === 'patch' ? 'worker' : 'org_admin', credential: 'jwt' },
          id,
          change,
        ),
      );
    const summary = (changed: ChangedRow[]) => changed.map((c) => [c.outcome, c.row?.id, c.row?.status]);
    const before = await writesPerStatement(t, 'status_change');
    // Handed over in one turn of the event loop: the first goes alone, the others wait for it and go together.
    const [first, ...together] = await Promise.all([
      ask(runs[0].id, { cause: 'patch', to: 'completed' }),
      ask(runs[1].id, { cause: 'patch', to: 'completed' }),
      ask(runs[1].id, { cause: 'patch', to: 'running' }), // decided on the completed run the change before left
      ask(foreign.id, { cause: 'patch', to: 'completed' }),
      ask(runs[4].id, { cause: 'cancel' }),
    ]);
    const after = await writesPerStatement(t, 'status_change');
    expect([after.count - before.count, after.sum - before.sum]).toEqual([2, 5]);
    // Each freed slot admits the oldest waiting run.
    expect(summary(first)).toEqual([
      ['moved', runs[0].id, 'completed'],
      ['admitted', runs[2].id, 'running'],
    ]);
    expect(together.map(summary)).toEqual([
      [
        ['moved', runs[1].id, 'completed'],
        ['admitted', runs[3].id, 'running'],
      ],
      [['refused_transition', runs[1].id, 'completed']],
      [['inaccessible', foreign.id, 'running']],
      [['moved', runs[4].id, 'cancelled']],
    ]);
    // The refusal is the one a change alone gets on the completed run.
    expect(summary(await ask(runs[1].id, { cause: 'patch', to: 'running' }))).toEqual([['refused_transition', runs[1].id, 'completed']]);

    const rows: { id: string; txid: string }[] = await t.dataSource.query(`SELECT id, xmin::text AS txid FROM flow_executions WHERE id = ANY ($1)`, [
      runs.map((r) => r.id),
    ]);
    const txid = new Map(rows.map((r) => [r.id, r.txid]));
    expect(txid.get(runs[0].id)).toBe(txid.get(runs[2].id));
    expect(new Set([runs[1].id, runs[3].id, runs[4].id].map((id) => txid.get(id)))).toEqual(new Set([txid.get(runs[1].id)]));
    expect(txid.get(runs[1].id)).not.toBe(txid.get(runs[0].id));

    // Their events in the order decided, and the slot counter exact.
    const events: { id: string; status: string }[] = await t.dataSource.query(
      `SELECT e.flow_execution_id AS id, e.payload -> 'flow_execution' ->> 'status' AS status FROM flow_events e
        WHERE e.organization_id = $1 AND e.type <> 'flow_execution.created' ORDER BY e.id`,
      [org.id],
    );
    expect(events).toEqual([
      { id: runs[0].id, status: 'completed' },
      { id: runs[2].id, status: 'running' },
      { id: runs[1].id, status: 'completed' },
      { id: runs[3].id, status: 'running' },
      { id: runs[4].id, status: 'cancelled' },
    ]);
    const [slots] = await t.dataSource.query(`SELECT active_executions FROM organizations WHERE id = $1`, [org.id]);
    expect(slots.active_executions).toBe(2);
  });
});
