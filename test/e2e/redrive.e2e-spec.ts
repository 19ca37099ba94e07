import { randomUUID } from 'node:crypto';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectSpecResponse } from '../utils/spec';
import { newOrg } from '../utils/tokens';

const BASE = '/api/flow-executions';
type Org = Awaited<ReturnType<typeof newOrg>>;
type Task = { task_name: string; task_execution_idx: number; processing_status: string; output: unknown; error: unknown };

describe('POST /api/flow-executions/{id}/redrive', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ DEFAULT_ORG_CONCURRENCY_LIMIT: '10' });
  });
  afterAll(() => t.close());

  const patch = (org: Org, id: string, to: string) => t.http().patch(`${BASE}/${id}/status`).query({ status: to }).set(org.auth('worker'));
  const get = async (org: Org, id: string) => (await t.http().get(`${BASE}/${id}`).query({ include_run_number: true }).set(org.auth()).expect(200)).body;
  const redrive = (org: Org, id: string, body?: object) => {
    const req = t.http().post(`${BASE}/${id}/redrive`).set(org.auth());
    return body ? req.send(body) : req;
  };
  const setLimit = (org: Org, limit: number) =>
    t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: limit }).expect(200);
  const report = (org: Org, id: string, task: string, status: string, extra: object = {}) =>
    t
      .http()
      .post('/api/task-executions')
      .set(org.auth('worker'))
      .send({ flow_execution_id: id, task_name: task, task_execution_idx: 0, processing_status: status, ...extra })
      .expect(201);
  const tasks = async (org: Org, id: string): Promise<Record<string, Task>> => {
    const res = await t.http().get('/api/task-executions').query({ flow_execution_id: id }).set(org.auth()).expect(200);
    return Object.fromEntries((res.body.task_executions as Task[]).map((x) => [x.task_name, x]));
  };
  const settings = async (org: Org) => (await t.http().get('/api/organizations/settings').set(org.auth()).expect(200)).body;

  /** A run whose first task completed, second failed and third never finished, then failed. */
  async function failedRun(org: Org, flowId: string) {
    const e = await createExecution(t, org.auth, flowId);
    await report(org, e.id, 'receive', 'completed', { output: { document_url: 'https://example.com/a.pdf' } });
    await report(org, e.id, 'extract', 'failed', { error: { message: 'boom' } });
    await report(org, e.id, 'review', 'running');
    await patch(org, e.id, 'failed').expect(200);
    return e;
  }

  it('resumes a failed run: unfinished tasks queued again, completed ones kept, same id and run number, counted, reason redrive', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await failedRun(org, flowId);
    const before = await get(org, e.id);
    expect(before.redrive_count).toBe(0);

    const res = await redrive(org, e.id).expect(200);
    expectSpecResponse('get', `${BASE}/{flow_execution_id}`, 200, { ...res.body, run_number: 1 });
    expect(res.body).toMatchObject({ id: e.id, status: 'running', redrive_count: 1, flow_version: before.flow_version });
    const after = await get(org, e.id);
    expect(after).toMatchObject({ id: e.id, run_number: before.run_number, status: 'running', redrive_count: 1 });

    const byName = await tasks(org, e.id);
    expect(byName.receive).toMatchObject({ processing_status: 'completed', output: { document_url: 'https://example.com/a.pdf' } });
    expect(byName.extract).toMatchObject({ processing_status: 'queued', error: null, task_execution_idx: 0 });
    expect(byName.review).toMatchObject({ processing_status: 'queued', task_execution_idx: 0 });

    const feed = (await t.http().get(`${BASE}/events`).set(org.auth()).expect(200)).body.events as {
      type: string;
      previous_status: string;
      reason: string;
      flow_execution: { status: string; redrive_count: number };
    }[];
    const last = feed[feed.length - 1];
    expect([last.type, last.previous_status, last.flow_execution.status, last.reason, last.flow_execution.redrive_count]).toEqual([
      'flow_execution.status_changed',
      'failed',
      'running',
      'redrive',
      1,
    ]);

    // A second redrive after it fails again counts again.
    await patch(org, e.id, 'failed').expect(200);
    await redrive(org, e.id).expect(200);
    expect((await get(org, e.id)).redrive_count).toBe(2);
  });

  it('with from_task, runs that task and everything downstream of it again, completed or not; the tasks upstream keep their outputs', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await createExecution(t, org.auth, flowId);
    await report(org, e.id, 'receive', 'completed', { output: { document_url: 'u' } });
    await report(org, e.id, 'extract', 'completed', { output: { text: 'x' } });
    await report(org, e.id, 'review', 'failed');
    await patch(org, e.id, 'failed').expect(200);

    await redrive(org, e.id, { from_task: 'extract' }).expect(200);
    const byName = await tasks(org, e.id);
    expect([byName.receive.processing_status, byName.extract.processing_status, byName.review.processing_status]).toEqual(['completed', 'queued', 'queued']);
    expect([byName.receive.output, byName.extract.output]).toEqual([{ document_url: 'u' }, null]);
  });

  it('redrives a cancelled run; takes a free slot, waits queued without one, and is admitted when a slot frees', async () => {
    const org = await newOrg();
    await setLimit(org, 1);
    const flowId = await createFlow(t, org.auth);
    const first = await createExecution(t, org.auth, flowId);
    const second = await createExecution(t, org.auth, flowId);
    expect([first.status, second.status]).toEqual(['running', 'queued']);
    await t.http().post(`${BASE}/${second.id}/cancel`).set(org.auth()).expect(204);
    expect((await get(org, second.id)).status).toBe('cancelled');

    // No free slot: the redriven run waits.
    expect((await redrive(org, second.id).expect(200)).body.status).toBe('queued');
    expect(await settings(org)).toMatchObject({ running_executions: 1, queued_executions: 1 });

    // The slot frees: it is admitted; when it fails its slot frees; a redrive takes it again.
    await patch(org, first.id, 'completed').expect(200);
    expect((await get(org, second.id)).status).toBe('running');
    expect(await settings(org)).toMatchObject({ running_executions: 1, queued_executions: 0 });
    await patch(org, second.id, 'failed').expect(200);
    expect(await settings(org)).toMatchObject({ running_executions: 0, queued_executions: 0 });
    expect((await redrive(org, second.id).expect(200)).body).toMatchObject({ status: 'running', redrive_count: 2 });
    expect(await settings(org)).toMatchObject({ running_executions: 1, queued_executions: 0 });
  });

  it('answers 409 from any other status, changing nothing', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await createExecution(t, org.auth, flowId);
    const res = await redrive(org, e.id).expect(409);
    expect(res.body.error).toMatchObject({
      code: 'conflict',
      message: "Cannot redrive a flow execution in status 'running': only failed and cancelled runs can be redriven",
    });
    await patch(org, e.id, 'completed').expect(200);
    await redrive(org, e.id).expect(409);
    expect(await get(org, e.id)).toMatchObject({ status: 'completed', redrive_count: 0 });
  });

  it('refuses an unknown from_task naming it, a bad body with 422, and replays an Idempotency-Key', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await failedRun(org, flowId);
    const unknown = await redrive(org, e.id, { from_task: 'nope' }).expect(400);
    expect(unknown.body.error).toMatchObject({ code: 'bad_request', details: ["from_task: unknown task 'nope'"] });
    const bad = await redrive(org, e.id, { from_task: 7 }).expect(422);
    expect(bad.body.detail[0].loc).toEqual(['body', 'from_task']);
    expect(await get(org, e.id)).toMatchObject({ status: 'failed', redrive_count: 0 });

    const key = randomUUID();
    const first = await redrive(org, e.id).set('Idempotency-Key', key).expect(200);
    const again = await redrive(org, e.id).set('Idempotency-Key', key).expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await get(org, e.id)).redrive_count).toBe(1);
  });

  it('answers 403 to a worker and to another organization, 404 for a deleted run', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await failedRun(org, flowId);
    await t.http().post(`${BASE}/${e.id}/redrive`).set(org.auth('worker')).expect(403);
    await t.http().post(`${BASE}/${e.id}/redrive`).set(other.auth()).expect(403);
    await t.http().delete(`${BASE}/${e.id}`).set(org.auth()).expect(204);
    await redrive(org, e.id).expect(404);
    await t.http().post(`${BASE}/not-a-uuid/redrive`).set(org.auth()).expect(400);
  });
});
