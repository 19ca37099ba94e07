import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { keyTakenOver } from '../../src/common/idempotency/idempotency.context';
import { fingerprint } from '../../src/common/idempotency/idempotent-requests';
import { IdempotencyStore } from '../../src/common/idempotency/idempotency.store';
import { FlowExecutionsService } from '../../src/flow-executions/flow-executions.service';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { ServerProcess, startServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';

jest.setTimeout(180_000);

const CREATE = '/api/flow-executions';
const ENV = { WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_WORKER: 'false' };

/**
 * The key's outcome commits with the work: a process that dies (FAULT_AFTER_COMMIT=exit) or a
 * connection that drops (FAULT_AFTER_COMMIT=drop) after COMMIT and before the answer leaves no key
 * "in progress" behind, and the retry replays the outcome instead of running the work again.
 */
describe('Idempotency-Key outcome in the work transaction', () => {
  let t: TestApp;
  let dropping: TestApp;
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    [t, dropping] = await Promise.all([createTestApp(ENV), createTestApp({ ...ENV, FAULT_AFTER_COMMIT: 'drop' })]);
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
  });
  afterAll(() => Promise.all([t.close(), dropping.close()]));

  const executionsOf = async (flowId: string): Promise<{ id: string }[]> => t.dataSource.query(`SELECT id FROM flow_executions WHERE flow_id = $1`, [flowId]);
  /** The request dies with its connection: no answer comes back. */
  const lost = (req: request.Test) =>
    req.then(
      (res) => {
        throw new Error(`answered ${res.status}`);
      },
      (err: Error) => err.message,
    );

  it('replays a create whose process was killed between COMMIT and the answer, and creates one execution', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const server = await startServerProcess({ ...ENV, FAULT_AFTER_COMMIT: 'exit' });
    servers.push(server);
    await waitUntilReady(server);
    const key = randomUUID();
    const body = { flow_id: flowId, input: { file_key: 'a.pdf' } };
    expect(await lost(request(server.url).post(CREATE).set(org.auth()).set('Idempotency-Key', key).send(body))).toMatch(/socket hang up|ECONNRESET/);
    expect(await server.stop()).toBeNull(); // SIGKILLed by itself: nothing ran after the commit

    const retry = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', key).send(body);
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    const runs = await executionsOf(flowId);
    expect(runs).toEqual([{ id: retry.body.id }]);
    const fresh = (await t.http().get(`${CREATE}/${retry.body.id}`).set(org.auth()).expect(200)).body;
    expect(retry.body).toEqual(fresh);
  });

  it('replays every idempotent POST whose connection dropped after COMMIT, and runs none of them twice', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);

    // POST /api/flow-executions
    const create = { flow_id: flowId, input: { file_key: 'b.pdf' } };
    await lost(dropping.http().post(CREATE).set(org.auth()).set('Idempotency-Key', 'c-1').send(create));
    const created = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', 'c-1').send(create).expect(201);
    expect(created.headers['idempotent-replayed']).toBe('true');
    expect(await executionsOf(flowId)).toEqual([{ id: created.body.id }]);
    const id = created.body.id as string;

    // POST /api/task-executions
    const task = { flow_execution_id: id, task_name: 'receive', task_execution_idx: 0, processing_status: 'running' };
    await lost(dropping.http().post('/api/task-executions').set(org.auth('worker')).set('Idempotency-Key', 't-1').send(task));
    const reported = await t.http().post('/api/task-executions').set(org.auth('worker')).set('Idempotency-Key', 't-1').send(task).expect(201);
    expect(reported.headers['idempotent-replayed']).toBe('true');
    expect(reported.body).toMatchObject({ flow_execution_id: id, task_name: 'receive', task_execution_idx: 0 });

    // POST .../cancel
    await lost(dropping.http().post(`${CREATE}/${id}/cancel`).set(org.auth()).set('Idempotency-Key', 'x-1'));
    expect((await t.http().get(`${CREATE}/${id}`).set(org.auth()).expect(200)).body.status).toBe('cancel_requested');
    await t.http().patch(`${CREATE}/${id}/status?status=cancelled`).set(org.auth('worker')).expect(200);

    // POST .../execute
    await lost(dropping.http().post(`${CREATE}/${id}/execute`).set(org.auth()).set('Idempotency-Key', 'e-1'));
    expect((await t.http().get(`${CREATE}/${id}`).set(org.auth()).expect(200)).body.status).toBe('running');
    const cancelled = await t.http().post(`${CREATE}/${id}/cancel`).set(org.auth()).set('Idempotency-Key', 'x-1').expect(204);
    expect(cancelled.headers['idempotent-replayed']).toBe('true');
    expect((await t.http().get(`${CREATE}/${id}`).set(org.auth()).expect(200)).body.status).toBe('running'); // not cancelled again
    await t.http().patch(`${CREATE}/${id}/status?status=completed`).set(org.auth('worker')).expect(200);
    const executed = await t.http().post(`${CREATE}/${id}/execute`).set(org.auth()).set('Idempotency-Key', 'e-1').expect(204);
    expect(executed.headers['idempotent-replayed']).toBe('true');
    expect((await t.http().get(`${CREATE}/${id}`).set(org.auth()).expect(200)).body.status).toBe('completed'); // not re-executed again

    // POST /api/webhooks: the outcome is kept without the secret, and replayed with it
    const hook = { url: 'http://127.0.0.1:9/hook' };
    await lost(dropping.http().post('/api/webhooks').set(org.auth()).set('Idempotency-Key', 'w-1').send(hook));
    const registered = await t.http().post('/api/webhooks').set(org.auth()).set('Idempotency-Key', 'w-1').send(hook).expect(201);
    expect(registered.headers['idempotent-replayed']).toBe('true');
    const [webhook] = await t.dataSource.query(`SELECT id, secret FROM webhooks WHERE organization_id = $1`, [org.id]);
    expect(registered.body).toMatchObject({ id: webhook.id, secret: webhook.secret });
    const [kept] = await t.dataSource.query(`SELECT response_body::text AS body FROM idempotency_keys WHERE organization_id = $1 AND key = 'w-1'`, [org.id]);
    expect(kept.body).not.toContain(webhook.secret);

    const keys = await t.dataSource.query(`SELECT key, response_status FROM idempotency_keys WHERE organization_id = $1 ORDER BY key`, [org.id]);
    expect(keys).toEqual([
      { key: 'c-1', response_status: 201 },
      { key: 'e-1', response_status: 204 },
      { key: 't-1', response_status: 201 },
      { key: 'w-1', response_status: 201 },
      { key: 'x-1', response_status: 204 },
    ]);
  });

  it('re-runs a key whose work never committed once its lease ran out, and not before', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const body = { flow_id: flowId, input: {} };
    const scope = { organizationId: org.id, operation: `POST ${CREATE}`, key: 'dead-1' };
    // The claim a process left when it died before its work committed.
    const claim = await t.app.get(IdempotencyStore).claim(scope, fingerprint({ method: 'POST', path: CREATE, originalUrl: CREATE, body }));
    expect(claim.kind).toBe('owner');
    const early = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', 'dead-1').send(body);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('idempotency_key_in_use');
    await t.dataSource.query(`UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE organization_id = $1`, [org.id]);
    const taken = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', 'dead-1').send(body).expect(201);
    expect(taken.headers['idempotent-replayed']).toBeUndefined();
    expect(await executionsOf(flowId)).toEqual([{ id: taken.body.id }]);
  });

  it('commits no work for a request whose key a retry took over after its lease', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const { id } = await createExecution(t, org.auth, flowId);
    const principal = { subject: 'slow', organizationId: org.id, role: 'org_admin' as const, credential: 'jwt' as const };
    const service = t.app.get(FlowExecutionsService);
    const store = t.app.get(IdempotencyStore);
    // A request that ran past its lease: the key's row now names the retry as its owner.
    const stale = async (operation: string) => {
      const scope = { organizationId: org.id, operation, key: randomUUID() };
      expect((await store.claim(scope, 'a'.repeat(64))).kind).toBe('owner');
      return { scope, owner: randomUUID(), status: 201, storedForm: null, kept: false };
    };

    const createKey = await stale(`POST ${CREATE}`);
    await expect(service.create(principal, { flow_id: flowId, input: {} }, null, createKey)).rejects.toMatchObject({
      code: keyTakenOver(createKey).code,
    });
    expect(await executionsOf(flowId)).toEqual([{ id }]);

    const cancelKey = await stale(`POST ${CREATE}/:flow_execution_id/cancel`);
    await expect(service.cancel(principal, id, cancelKey)).rejects.toMatchObject({ code: 'idempotency_key_in_use' });
    expect((await t.http().get(`${CREATE}/${id}`).set(org.auth()).expect(200)).body.status).toBe('running');
  });
});
