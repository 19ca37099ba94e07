import { randomUUID } from 'node:crypto';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { newOrg } from '../utils/tokens';

const TOKEN = 'metrics-token-0123456789';

/** The value of one sample line, e.g. `flow_executions_created_total 3`; 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('GET /metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ METRICS_TOKEN: TOKEN });
  });
  afterAll(() => t.close());

  const scrape = async () => (await t.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200)).text;

  it('needs the bearer token when METRICS_TOKEN is set, in the envelope, and is not in the OpenAPI document', async () => {
    const none = await t.http().get('/metrics').expect(401);
    expectEnvelope(none, 401, 'unauthorized');
    await t.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}x`).expect(401);
    await t.http().get('/metrics').set('Authorization', `Bearer short`).expect(401);
    const ok = await t.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const doc = await t.http().get('/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths).filter((p) => p.includes('metrics'))).toEqual([]);
  });

  it('labels requests with the route template, never a raw path, id or organization', async () => {
    const org = newOrg();
    const { auth, id: orgId } = await org;
    const flowId = await createFlow(t, auth);
    const execution = await createExecution(t, auth, flowId);
    const missing = randomUUID();
    await t.http().get(`/api/flow-executions/${execution.id}`).set(auth()).expect(200);
    await t.http().get(`/api/flow-executions/${missing}`).set(auth()).expect(404);
    await t.http().get(`/api/no/such/${missing}`).set(auth()).expect(404);

    const text = await scrape();
    const route = '/api/flow-executions/:flow_execution_id';
    expect(sample(text, `http_request_duration_seconds_count{method="GET",route="${route}",status="200"}`)).toBeGreaterThanOrEqual(1);
    expect(sample(text, `http_request_duration_seconds_count{method="GET",route="${route}",status="404"}`)).toBeGreaterThanOrEqual(1);
    expect(sample(text, `http_request_duration_seconds_count{method="POST",route="/api/flow-executions",status="201"}`)).toBeGreaterThanOrEqual(1);
    expect(sample(text, `http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}`)).toBeGreaterThanOrEqual(1);
    for (const id of [execution.id, missing, flowId, orgId]) expect(text).not.toContain(id);
    // Every route label is a template: no path segment that looks like an id.
    const routes = [...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]);
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.filter((r) => /[0-9a-f]{8}-[0-9a-f]{4}/i.test(r))).toEqual([]);
    expect(sample(text, 'http_requests_in_flight')).toBeGreaterThanOrEqual(1); // the scrape itself
  });

  it('counts committed creations, transitions and events, and shows the pool and the process', async () => {
    const { auth } = await newOrg();
    const flowId = await createFlow(t, auth);
    const before = await scrape();
    const execution = await createExecution(t, auth, flowId);
    expect(execution.status).toBe('running');
    await t.http().patch(`/api/flow-executions/${execution.id}/status`).query({ status: 'completed' }).set(auth('worker')).expect(200);
    await t.http().delete(`/api/flow-executions/${execution.id}`).set(auth()).expect(204);
    // A refused transition commits nothing and counts nothing.
    await t.http().patch(`/api/flow-executions/${execution.id}/status`).query({ status: 'running' }).set(auth('worker')).expect(404);
    const after = await scrape();

    const delta = (series: string) => sample(after, series) - sample(before, series);
    expect(delta('flow_executions_created_total')).toBe(1);
    expect(delta('flow_execution_transitions_total{from="running",to="completed"}')).toBe(1);
    expect(delta('flow_execution_transitions_total{from="completed",to="deleted"}')).toBe(1);
    expect(delta('events_written_total{type="flow_execution.created"}')).toBe(1);
    expect(sample(after, 'db_pool_total')).toBeGreaterThanOrEqual(1);
    expect(after).toContain('db_pool_idle ');
    expect(after).toContain('db_pool_waiting ');
    expect(after).toContain('process_cpu_user_seconds_total ');
    expect(after).toContain('long_polls_open 0');
    expect(after).toContain('sse_streams_open 0');
  });

  it('is open without METRICS_TOKEN', async () => {
    const open = await createTestApp();
    try {
      const res = await open.http().get('/metrics').expect(200);
      expect(res.text).toContain('# TYPE http_request_duration_seconds histogram');
    } finally {
      await open.close();
    }
  });
});
