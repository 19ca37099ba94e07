import { Client } from 'pg';
import { withScratchDatabase } from '../../src/database/scratch-database';
import { ACTIVE_STATUSES, EXECUTION_STATUSES, ExecutionStatus } from '../../src/flow-executions/execution-status';
import { CAUSES, decide, Decision, RULES } from '../../src/flow-executions/transitions';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
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
