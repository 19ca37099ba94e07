import { randomUUID } from 'node:crypto';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { longPollsHeld, untilHeld } from '../utils/held';
import { expectSpecResponse } from '../utils/spec';
import { newOrg } from '../utils/tokens';

const RETRIEVE = '/api/flow-executions/{flow_execution_id}';

describe('GET /api/flows/{flow_id}/executions/{run_number}', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  async function flowWithRuns(n: number) {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const runs = [];
    for (let i = 0; i < n; i++) runs.push(await createExecution(t, org.auth, flowId));
    return { org, flowId, runs };
  }

  it('answers as the retrieve endpoint with include_run_number: same body, same ETag, 304 for a current one', async () => {
    const { org, flowId, runs } = await flowWithRuns(3);
    const byRun = await t.http().get(`/api/flows/${flowId}/executions/2`).set(org.auth('worker'));
    expect(byRun.status).toBe(200);
    expectSpecResponse('get', RETRIEVE, 200, byRun.body);
    const byId = await t.http().get(`/api/flow-executions/${runs[1].id}?include_run_number=true`).set(org.auth()).expect(200);
    expect(byRun.body).toEqual(byId.body);
    expect(byRun.body.run_number).toBe(2);
    expect(byRun.headers.etag).toBe(byId.headers.etag);

    await t.http().get(`/api/flows/${flowId}/executions/2`).set(org.auth()).set('If-None-Match', byRun.headers.etag).expect(304);
    const credits = await t.http().get(`/api/flows/${flowId}/executions/3?include_credits=true`).set(org.auth()).expect(200);
    expect(credits.body).toMatchObject({ id: runs[2].id, run_number: 3, total_credits: null });
  });

  it('holds with Prefer: wait until the run changes', async () => {
    const { org, flowId, runs } = await flowWithRuns(1);
    const first = await t.http().get(`/api/flows/${flowId}/executions/1`).set(org.auth()).expect(200);
    const before = await longPollsHeld(t);
    const held = t.http().get(`/api/flows/${flowId}/executions/1`).set(org.auth()).set('If-None-Match', first.headers.etag).set('Prefer', 'wait=20');
    const answer = held.then((r) => r);
    await untilHeld(() => longPollsHeld(t), before);
    await t.http().patch(`/api/flow-executions/${runs[0].id}/status?status=completed`).set(org.auth('worker')).expect(200);
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: runs[0].id, status: 'completed', run_number: 1 });
    expect(res.headers['preference-applied']).toBe('wait=20');
  });

  it('answers 404 for a deleted run, a run number past the last and an unknown flow', async () => {
    const { org, flowId, runs } = await flowWithRuns(2);
    await t.http().delete(`/api/flow-executions/${runs[0].id}`).set(org.auth()).expect(204);
    for (const path of [`/api/flows/${flowId}/executions/1`, `/api/flows/${flowId}/executions/3`, `/api/flows/${randomUUID()}/executions/1`]) {
      const res = await t.http().get(path).set(org.auth());
      expectEnvelope(res, 404, 'not_found');
    }
    await t.http().get(`/api/flows/${flowId}/executions/2`).set(org.auth()).expect(200);
  });

  it('answers 403 for another organization’s flow, whether or not the run exists, and shows nothing of it', async () => {
    const { flowId, runs } = await flowWithRuns(1);
    const stranger = await newOrg();
    for (const n of [1, 5]) {
      const res = await t.http().get(`/api/flows/${flowId}/executions/${n}`).set(stranger.auth());
      expectEnvelope(res, 403, 'forbidden');
      expect(JSON.stringify(res.body)).not.toContain(runs[0].id);
    }
  });

  it('answers 422 for a run number that is not a positive integer, 400 for a flow id that is not a UUID, 401 without a credential', async () => {
    const { org, flowId } = await flowWithRuns(1);
    for (const bad of ['0', '-1', 'abc', '1.5', '2147483648']) {
      const res = await t.http().get(`/api/flows/${flowId}/executions/${bad}`).set(org.auth());
      expect(res.status).toBe(422);
      expect(res.body.detail[0].loc).toEqual(['path', 'run_number']);
    }
    const notUuid = await t.http().get(`/api/flows/not-a-uuid/executions/1`).set(org.auth());
    expect(notUuid.status).toBe(400);
    expect(notUuid.body.error.message).toBe('Invalid flow ID format');
    await t.http().get(`/api/flows/${flowId}/executions/1`).expect(401);
  });

  it('finds the run with one lookup in the (flow_id, run_number) index', async () => {
    const { flowId } = await flowWithRuns(1);
    const [{ 'QUERY PLAN': plan }] = await t.dataSource.query(
      `EXPLAIN (FORMAT JSON) SELECT * FROM flow_executions fe WHERE fe.flow_id = $1 AND fe.run_number = $2`,
      [flowId, 1],
    );
    expect(JSON.stringify(plan)).toContain('flow_executions_run_number_uq');
  });

  it('is in the OpenAPI document with its error responses', async () => {
    const doc = (await t.http().get('/openapi.json').expect(200)).body;
    const op = doc.paths['/api/flows/{flow_id}/executions/{run_number}'].get;
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '304', '400', '401', '403', '404', '422']));
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['flow_id', 'run_number', 'If-None-Match', 'Prefer']));
  });
});
