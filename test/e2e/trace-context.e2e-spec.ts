import { createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';
import { eventually } from '../utils/eventually';
import { WebhookReceiver } from '../utils/webhook-receiver';

type Org = Awaited<ReturnType<typeof newOrg>>;

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TRACESTATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';

describe('trace context (docs/api.md#trace-context)', () => {
  let t: TestApp;
  const receivers: WebhookReceiver[] = [];
  beforeAll(async () => {
    t = await createTestApp({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_BASE_MS: '50' });
  });
  afterAll(async () => {
    await t.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  const create = async (org: Org, flowId: string, headers: Record<string, string>) => {
    const res = await t
      .http()
      .post('/api/flow-executions')
      .set(org.auth())
      .set(headers)
      .send({ flow_id: flowId, input: { file_key: 'a.pdf' } });
    expect(res.status).toBe(201);
    expect(res.body).not.toHaveProperty('traceparent'); // the run's own body is upstream's
    return res.body.id as string;
  };
  const reportTask = async (org: Org, id: string, idx = 0) => {
    const res = await t
      .http()
      .post('/api/task-executions')
      .set(org.auth('worker'))
      .send({ flow_execution_id: id, task_name: 'receive', task_execution_idx: idx, processing_status: 'running' });
    expect(res.status).toBe(201);
    return res.body as { id: string; traceparent: string | null; tracestate: string | null };
  };
  const listTasks = async (org: Org, id: string) =>
    (await t.http().get('/api/task-executions').query({ flow_execution_id: id }).set(org.auth()).expect(200)).body.task_executions as {
      traceparent: string | null;
      tracestate: string | null;
    }[];

  it('keeps the traceparent of the create, hands it to task executions and sends it on webhook deliveries', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const receiver = await WebhookReceiver.start();
    receivers.push(receiver);
    await t.http().post('/api/webhooks').set(org.auth()).send({ url: receiver.url(), flow_id: flowId }).expect(201);

    const id = await create(org, flowId, { traceparent: TRACEPARENT, tracestate: TRACESTATE });
    const task = await reportTask(org, id);
    expect(task).toMatchObject({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
    const read = await t.http().get(`/api/task-executions/${task.id}`).set(org.auth()).expect(200);
    expect(read.body).toMatchObject({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
    expect(await listTasks(org, id)).toEqual([expect.objectContaining({ traceparent: TRACEPARENT, tracestate: TRACESTATE })]);
    const updated = await t
      .http()
      .put('/api/task-executions')
      .set(org.auth('worker'))
      .send({ flow_execution_id: id, task_name: 'receive', task_execution_idx: 0, output: { ok: true } })
      .expect(200);
    expect(updated.body).toMatchObject({ traceparent: TRACEPARENT, tracestate: TRACESTATE });

    // flow_execution.created, then task_execution.updated for the report and for the update: every delivery carries the run's trace context.
    const got = await receiver.waitFor(3);
    for (const request of got) expect(request.headers).toMatchObject({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
    expect(got.map((r) => JSON.parse(r.body).type).sort()).toEqual(['flow_execution.created', 'task_execution.updated', 'task_execution.updated']);
    // The task execution in the event payload carries it too.
    const taskEvent = got.map((r) => JSON.parse(r.body)).find((e) => e.type === 'task_execution.updated');
    expect(taskEvent.task_execution).toMatchObject({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
  });

  it('keeps it on a create with an Idempotency-Key too, and a replay answers the same run', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const headers = { traceparent: TRACEPARENT, tracestate: TRACESTATE, 'Idempotency-Key': 'traced-create' };
    const id = await create(org, flowId, headers);
    expect(await create(org, flowId, { ...headers, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })).toBe(id);
    expect(await reportTask(org, id)).toMatchObject({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
  });

  it.each([
    ['uppercase hex', TRACEPARENT.toUpperCase()],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['version ff', `ff${TRACEPARENT.slice(2)}`],
    ['a wrong length', `${TRACEPARENT}0`],
    ['garbage', 'not a traceparent'],
  ])('ignores a traceparent with %s (and then its tracestate): the create succeeds without a trace', async (_, traceparent) => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const id = await create(org, flowId, { traceparent, tracestate: TRACESTATE });
    expect(await reportTask(org, id)).toMatchObject({ traceparent: null, tracestate: null });
  });

  it('discards an invalid tracestate but keeps the traceparent; truncates a long one to 512 characters', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const duplicate = await create(org, flowId, { traceparent: TRACEPARENT, tracestate: 'a=1,a=2' });
    expect(await reportTask(org, duplicate)).toMatchObject({ traceparent: TRACEPARENT, tracestate: null });
    const tooMany = await create(org, flowId, { traceparent: TRACEPARENT, tracestate: Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',') });
    expect(await reportTask(org, tooMany)).toMatchObject({ traceparent: TRACEPARENT, tracestate: null });
    const members = Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(2, '0')}=${'z'.repeat(40)}`);
    const long = await create(org, flowId, { traceparent: TRACEPARENT, tracestate: members.join(',') });
    expect(await reportTask(org, long)).toMatchObject({ traceparent: TRACEPARENT, tracestate: members.slice(0, 11).join(',') });
  });

  it('re-execute: a traceparent sent replaces the run’s, none keeps it', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const id = await create(org, flowId, { traceparent: TRACEPARENT, tracestate: TRACESTATE });
    await t.http().patch(`/api/flow-executions/${id}/status`).query({ status: 'failed' }).set(org.auth('worker')).expect(200);
    await t.http().post(`/api/flow-executions/${id}/execute`).set(org.auth()).set({ traceparent: 'invalid' }).expect(204);
    expect(await reportTask(org, id, 1)).toMatchObject({ traceparent: TRACEPARENT, tracestate: TRACESTATE });

    const next = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    await t.http().patch(`/api/flow-executions/${id}/status`).query({ status: 'failed' }).set(org.auth('worker')).expect(200);
    await t.http().post(`/api/flow-executions/${id}/execute`).set(org.auth()).set({ traceparent: next }).expect(204);
    const tasks = await eventually(
      () => listTasks(org, id),
      (list) => list.length > 0,
    );
    // Every task body of the run now carries the new context; the old tracestate went with the old traceparent.
    expect(tasks.every((task) => task.traceparent === next && task.tracestate === null)).toBe(true);
  });

  it('is documented in the OpenAPI document: the headers on create and re-execute, the fields on task executions', async () => {
    const document = (await t.http().get('/openapi.json').expect(200)).body;
    for (const [path, method] of [
      ['/api/flow-executions', 'post'],
      ['/api/flow-executions/{flow_execution_id}/execute', 'post'],
    ]) {
      const headers = document.paths[path][method].parameters.filter((p: { in: string }) => p.in === 'header').map((p: { name: string }) => p.name);
      expect(headers).toEqual(expect.arrayContaining(['traceparent', 'tracestate']));
    }
    expect(document.components.schemas.TaskExecutionAPI.properties).toMatchObject({
      traceparent: { type: 'string', nullable: true },
      tracestate: { type: 'string', nullable: true },
    });
  });

  it('another organization still cannot read the run’s task executions', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const id = await create(org, flowId, { traceparent: TRACEPARENT });
    const task = await reportTask(org, id);
    const foreign = await t.http().get(`/api/task-executions/${task.id}`).set(other.auth());
    expect([403, 404]).toContain(foreign.status);
    expect(JSON.stringify(foreign.body)).not.toContain(TRACEPARENT);
    expect(await listTasks(other, id).catch(() => [])).toEqual([]);
  });
});
