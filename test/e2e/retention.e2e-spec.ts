import { RetentionService } from '../../src/retention/retention.service';
import { createExecution, definitionOf, LINEAR_TASKS } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { eventually } from '../utils/eventually';
import { newOrg } from '../utils/tokens';

type Org = Awaited<ReturnType<typeof newOrg>>;
const BASE = '/api/flow-executions';

async function flowWithTtl(t: TestApp, org: Org, seconds: number | null): Promise<string> {
  const settings = { ttl: { seconds }, reexecute_on_update: false };
  const res = await t
    .http()
    .post('/api/flows')
    .set(org.auth())
    .send({ display_name: 'Retained', definition: definitionOf(LINEAR_TASKS), settings });
  if (res.status !== 201) throw new Error(`flow: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

const terminalAt = async (t: TestApp, id: string): Promise<Date | null> =>
  (await t.dataSource.query(`SELECT terminal_at FROM flow_executions WHERE id = $1`, [id]))[0].terminal_at;

/** As if the run had been terminal for `seconds` already (the TTL's minimum is a minute). */
const backdate = (t: TestApp, ids: string[], seconds: number) =>
  t.dataSource.query(`UPDATE flow_executions SET terminal_at = terminal_at - make_interval(secs => $2) WHERE id = ANY($1::uuid[])`, [ids, seconds]);

async function finish(t: TestApp, org: Org, id: string, status: 'completed' | 'failed') {
  await t.http().patch(`${BASE}/${id}/status`).query({ status }).set(org.auth('worker')).expect(200);
}

describe('TTL retention', () => {
  describe('the background sweep (RETENTION_SWEEP_INTERVAL_S=1)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ RETENTION_SWEEP_INTERVAL_S: '1' });
    });
    afterAll(() => t.close());

    it('records when a run became terminal, and forgets it when the run leaves a terminal status', async () => {
      const org = await newOrg();
      const flowId = await flowWithTtl(t, org, 3600);
      const run = await createExecution(t, org.auth, flowId);
      expect(await terminalAt(t, run.id)).toBeNull();
      await finish(t, org, run.id, 'completed');
      const completedAt = await terminalAt(t, run.id);
      expect(completedAt).toBeInstanceOf(Date);
      await t.http().patch(`${BASE}/${run.id}/status`).query({ status: 'stale' }).set(org.auth('worker')).expect(200);
      expect(await terminalAt(t, run.id)).toBeNull();
      await t.http().post(`${BASE}/${run.id}/execute`).set(org.auth()).expect(204);
      expect(await terminalAt(t, run.id)).toBeNull();
      await finish(t, org, run.id, 'failed');
      expect((await terminalAt(t, run.id))!.getTime()).toBeGreaterThan(completedAt!.getTime());

      // Cancelled counts too: a queued run cancelled at once.
      const limited = await newOrg();
      await t.http().put('/api/organizations/settings').set(limited.auth()).send({ max_concurrent_executions: 1 }).expect(200);
      const limitedFlow = await flowWithTtl(t, limited, 3600);
      await createExecution(t, limited.auth, limitedFlow);
      const waiting = await createExecution(t, limited.auth, limitedFlow);
      expect(waiting.status).toBe('queued');
      await t.http().post(`${BASE}/${waiting.id}/cancel`).set(limited.auth()).expect(204);
      expect(await terminalAt(t, waiting.id)).toBeInstanceOf(Date);
    });

    it('soft-deletes what has been terminal for its flow’s TTL, with a flow_execution.deleted event, and nothing else', async () => {
      const org = await newOrg();
      const flowId = await flowWithTtl(t, org, 60);
      const otherFlow = await flowWithTtl(t, org, null);
      const [completed, failed, running, recent] = [
        await createExecution(t, org.auth, flowId),
        await createExecution(t, org.auth, flowId),
        await createExecution(t, org.auth, flowId),
        await createExecution(t, org.auth, flowId),
      ];
      const noTtl = await createExecution(t, org.auth, otherFlow);
      await finish(t, org, completed.id, 'completed');
      await finish(t, org, failed.id, 'failed');
      await finish(t, org, recent.id, 'completed');
      await finish(t, org, noTtl.id, 'completed');
      const [{ run_number: runNumber }] = await t.dataSource.query(`SELECT run_number FROM flow_executions WHERE id = $1`, [completed.id]);
      await backdate(t, [completed.id, failed.id, noTtl.id], 61);
      await backdate(t, [recent.id], 30);

      // The sweep runs every second; wait for it, boundedly.
      await eventually(
        async () => (await t.http().get(`${BASE}/${failed.id}`).set(org.auth())).status,
        (status) => status === 404,
        15_000,
      ).catch(() => undefined);
      await t.http().get(`${BASE}/${completed.id}`).set(org.auth()).expect(404);
      await t.http().get(`${BASE}/${failed.id}`).set(org.auth()).expect(404);
      for (const kept of [running, recent, noTtl]) await t.http().get(`${BASE}/${kept.id}`).set(org.auth()).expect(200);
      const list = await t.http().get(BASE).query({ flow_id: flowId }).set(org.auth()).expect(200);
      expect(list.body.map((e: { id: string }) => e.id).sort()).toEqual([running.id, recent.id].sort());

      const feed = await t.http().get(`${BASE}/events`).query({ flow_id: flowId }).set(org.auth()).expect(200);
      const deleted = feed.body.events.filter((e: { type: string }) => e.type === 'flow_execution.deleted');
      expect(
        deleted
          .map((e: { flow_execution: { id: string; status: string }; previous_status: string; reason: string }) => [
            e.flow_execution.id,
            e.flow_execution.status,
            e.previous_status,
            e.reason,
          ])
          .sort(),
      ).toEqual(
        [
          [completed.id, 'deleted', 'completed', 'retention'],
          [failed.id, 'deleted', 'failed', 'retention'],
        ].sort(),
      );
      const [row] = await t.dataSource.query(`SELECT modified_by, run_number FROM flow_executions WHERE id = $1`, [completed.id]);
      expect(row).toEqual({ modified_by: 'retention', run_number: runNumber });
    });

    it('finds due rows through the index, not by scanning', async () => {
      // The test table is small enough for a scan to win; forbid it to see which index the planner has.
      const [plan] = await t.dataSource.transaction(async (m) => {
        await m.query(`SET LOCAL enable_seqscan = off`);
        return m.query(
          `EXPLAIN (FORMAT JSON)
         SELECT fe.id FROM flow_executions fe
          WHERE fe.flow_id = gen_random_uuid() AND fe.status IN ('completed', 'failed', 'cancelled')
            AND fe.terminal_at <= clock_timestamp() - interval '60 seconds'
          ORDER BY fe.terminal_at LIMIT 1000`,
        );
      });
      expect(JSON.stringify(plan['QUERY PLAN'])).toContain('flow_executions_flow_terminal_idx');
    });
  });

  describe('two replicas sweeping at once', () => {
    let a: TestApp;
    let b: TestApp;
    beforeAll(async () => {
      [a, b] = await Promise.all([createTestApp(), createTestApp()]);
    });
    afterAll(() => Promise.all([a.close(), b.close()]));

    it('delete each due execution once, with one event each', async () => {
      const orgs = await Promise.all([newOrg(), newOrg(), newOrg()]);
      const ids: string[] = [];
      for (const org of orgs) {
        const flowId = await flowWithTtl(a, org, 60);
        for (let i = 0; i < 8; i++) {
          const run = await createExecution(a, org.auth, flowId);
          await finish(a, org, run.id, 'completed');
          ids.push(run.id);
        }
      }
      await backdate(a, ids, 120);

      const [fromA, fromB] = await Promise.all([a.app.get(RetentionService).sweep(), b.app.get(RetentionService).sweep()]);
      const again = await a.app.get(RetentionService).sweep();
      expect(fromA + fromB + again).toBe(ids.length);

      const statuses = await a.dataSource.query(`SELECT DISTINCT status FROM flow_executions WHERE id = ANY($1::uuid[])`, [ids]);
      expect(statuses).toEqual([{ status: 'deleted' }]);
      const events: { flow_execution_id: string; n: number }[] = await a.dataSource.query(
        `SELECT flow_execution_id, count(*)::int AS n FROM flow_events
          WHERE flow_execution_id = ANY($1::uuid[]) AND type = 'flow_execution.deleted' GROUP BY flow_execution_id`,
        [ids],
      );
      expect(events).toHaveLength(ids.length);
      expect(events.every((e) => e.n === 1)).toBe(true);
    });
  });
});
