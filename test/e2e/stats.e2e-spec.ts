import { createExecution, createFlow, definitionOf, LINEAR_TASKS } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';

const STATS = '/api/flow-executions/stats';
type Durations = { p50: number; p95: number; max: number } | null;
type Group = { key: string | number; count: number; finished: number; duration_seconds: Durations };

/** PostgreSQL's percentile_cont: linear interpolation between the closest ranks. */
function percentile(sorted: number[], q: number): number {
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

function durations(seconds: number[]): Durations {
  if (seconds.length === 0) return null;
  const sorted = [...seconds].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), max: sorted[sorted.length - 1] };
}

describe('GET /api/flow-executions/stats', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ DEFAULT_ORG_CONCURRENCY_LIMIT: '1000' });
  });
  afterAll(() => t.close());

  /** A flow with 40 runs over two versions in every kind of status, a few deleted, and a second flow beside it. */
  async function world() {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const other = await createFlow(t, org.auth);
    await createExecution(t, org.auth, other);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 20)
        await t
          .http()
          .put(`/api/flows/${flowId}/definition`)
          .set(org.auth())
          .send({ definition: definitionOf(LINEAR_TASKS) })
          .expect(200);
      ids.push((await createExecution(t, org.auth, flowId)).id);
    }
    const patch = (id: string, to: string) => t.http().patch(`/api/flow-executions/${id}/status`).query({ status: to }).set(org.auth('worker')).expect(200);
    for (const [i, id] of ids.entries()) {
      if (i % 5 === 0) await patch(id, 'completed');
      else if (i % 5 === 1) await patch(id, 'failed');
      else if (i % 5 === 2) await t.http().post(`/api/flow-executions/${id}/cancel`).set(org.auth()).expect(204);
      if (i % 7 === 3) await t.http().delete(`/api/flow-executions/${id}`).set(org.auth()).expect(204);
    }
    return { org, flowId };
  }

  /** The brute force: every row of the flow, grouped and measured in JavaScript. */
  async function bruteForce(flowId: string, groupBy: 'status' | 'flow_version' | 'day', where = 'true', params: unknown[] = []) {
    const rows: { status: string; flow_version: number; day: string; seconds: number | null }[] = await t.dataSource.query(
      `SELECT status, flow_version, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
              CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN extract(epoch FROM terminal_at - created_at)::float8 END AS seconds
         FROM flow_executions WHERE flow_id = $1 AND status <> 'deleted' AND ${where}`,
      [flowId, ...params],
    );
    const byKey = new Map<string | number, typeof rows>();
    for (const row of rows) byKey.set(row[groupBy], [...(byKey.get(row[groupBy]) ?? []), row]);
    const summary = (rs: typeof rows) => {
      const finished = rs.flatMap((r) => (r.seconds === null ? [] : [r.seconds]));
      return { count: rs.length, finished: finished.length, duration_seconds: durations(finished) };
    };
    const groups = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, rs]) => ({ key, ...summary(rs) }));
    return { ...summary(rows), groups };
  }

  const close = (actual: { count: number; finished: number; duration_seconds: Durations }, expected: typeof actual) => {
    expect([actual.count, actual.finished]).toEqual([expected.count, expected.finished]);
    if (expected.duration_seconds === null) return expect(actual.duration_seconds).toBeNull();
    for (const k of ['p50', 'p95', 'max'] as const) expect(actual.duration_seconds![k]).toBeCloseTo(expected.duration_seconds[k], 5);
  };

  it.each(['status', 'flow_version', 'day'] as const)('equals a brute-force count and the durations, grouped by %s', async (groupBy) => {
    const { org, flowId } = await world();
    const res = await t.http().get(STATS).query({ flow_id: flowId, group_by: groupBy }).set(org.auth('worker')).expect(200);
    const expected = await bruteForce(flowId, groupBy);
    expect(res.body).toMatchObject({ flow_id: flowId, group_by: groupBy });
    close(res.body, expected);
    expect(res.body.groups.map((g: Group) => g.key)).toEqual(expected.groups.map((g) => g.key));
    res.body.groups.forEach((g: Group, i: number) => close(g, expected.groups[i]));
    expect(res.body.count).toBe(40 - 6); // 6 of the 40 deleted
  });

  it('applies the selection: statuses, versions, run numbers, ranges', async () => {
    const { org, flowId } = await world();
    const query = { flow_id: flowId, status: ['completed', 'failed'], flow_version: 2, run_number_min: 22, run_number_max: 39 };
    const res = await t.http().get(STATS).query(query).set(org.auth()).expect(200);
    const expected = await bruteForce(flowId, 'status', `status = ANY($2) AND flow_version = 2 AND run_number BETWEEN 22 AND 39`, [['completed', 'failed']]);
    close(res.body, expected);
    expect(res.body.groups.map((g: Group) => g.key)).toEqual(['completed', 'failed']);

    // Tags: runs with a task carrying one, or none.
    const [first, second] = (
      await t.dataSource.query(`SELECT id FROM flow_executions WHERE flow_id = $1 AND status <> 'deleted' ORDER BY run_number LIMIT 2`, [flowId])
    ).map((r: { id: string }) => r.id);
    for (const id of [first, second])
      await t
        .http()
        .post('/api/task-executions')
        .set(org.auth('worker'))
        .send({ flow_execution_id: id, task_name: 'receive', task_execution_idx: 0, processing_status: 'completed', tags: ['source:email'] })
        .expect(201);
    const tagged = await t.http().get(STATS).query({ flow_id: flowId, tags: 'source:email' }).set(org.auth()).expect(200);
    const untagged = await t.http().get(STATS).query({ flow_id: flowId, tags_exclude: 'source:email' }).set(org.auth()).expect(200);
    expect([tagged.body.count, untagged.body.count]).toEqual([2, 34 - 2]);

    const none = await t.http().get(STATS).query({ flow_id: flowId, created_before: '2000-01-01T00:00:00Z' }).set(org.auth()).expect(200);
    expect(none.body).toMatchObject({ count: 0, finished: 0, duration_seconds: null, groups: [] });
  });

  it('answers 422 for a bad group or filter, 404 for an unknown flow, 403 for another organization’s', async () => {
    const { org, flowId } = await world();
    const other = await newOrg();
    const bad = await t.http().get(STATS).query({ flow_id: flowId, group_by: 'hour' }).set(org.auth()).expect(422);
    expect(bad.body.detail[0].loc).toEqual(['query', 'group_by']);
    await t.http().get(STATS).query({ flow_id: flowId, flow_version: 0 }).set(org.auth()).expect(422);
    await t.http().get(STATS).query({}).set(org.auth()).expect(422);
    await t.http().get(STATS).query({ flow_id: '00000000-0000-4000-8000-000000000000' }).set(org.auth()).expect(404);
    const foreign = await t.http().get(STATS).query({ flow_id: flowId }).set(other.auth()).expect(403);
    expect(foreign.body.error.code).toBe('forbidden');
    await t.http().get(STATS).query({ flow_id: flowId }).expect(401);
  });
});
