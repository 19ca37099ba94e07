import { randomUUID } from 'node:crypto';
import { IdempotencyStore } from '../../src/common/idempotency/idempotency.store';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { newOrg } from '../utils/tokens';

const CREATE = '/api/flow-executions';

describe('Idempotency-Key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const executionsOf = async (flowId: string): Promise<number> =>
    (await t.dataSource.query(`SELECT count(*)::int AS n FROM flow_executions WHERE flow_id = $1`, [flowId]))[0].n;

  it('replays the first answer to the same request, whatever its key order, and creates one execution', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const key = randomUUID();
    const first = await t
      .http()
      .post(CREATE)
      .set(org.auth())
      .set('Idempotency-Key', key)
      .send({ flow_id: flowId, input: { a: 1, b: [1, { c: 2, d: 3 }] } });
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const again = await t
      .http()
      .post(CREATE)
      .set(org.auth())
      .set('Idempotency-Key', key)
      .set('Content-Type', 'application/json')
      .send(`{"input": {"b": [1, {"d": 3, "c": 2}], "a": 1},   "flow_id": "${flowId}"}`);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await executionsOf(flowId)).toBe(1);
    const rows = await t.dataSource.query(`SELECT operation, response_status FROM idempotency_keys WHERE organization_id = $1`, [org.id]);
    expect(rows).toEqual([{ operation: 'POST /api/flow-executions', response_status: 201 }]);
  });

  it('answers 422 idempotency_key_reused for the same key with another request, and changes nothing', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const key = 'order-42';
    await t
      .http()
      .post(CREATE)
      .set(org.auth())
      .set('Idempotency-Key', key)
      .send({ flow_id: flowId, input: { n: 1 } })
      .expect(201);
    const other = await t
      .http()
      .post(CREATE)
      .set(org.auth())
      .set('Idempotency-Key', key)
      .send({ flow_id: flowId, input: { n: 2 } });
    expectEnvelope(other, 422, 'idempotency_key_reused');
    expect(other.body.error.message).toContain('Idempotency-Key');
    const query = await t
      .http()
      .post(`${CREATE}?x=1`)
      .set(org.auth())
      .set('Idempotency-Key', key)
      .send({ flow_id: flowId, input: { n: 1 } });
    expect(query.status).toBe(422);
    expect(await executionsOf(flowId)).toBe(1);
  });

  it('lets ten concurrent duplicates create one execution; the others are told to retry or get the replay', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const key = randomUUID();
    const send = () =>
      t
        .http()
        .post(CREATE)
        .set(org.auth())
        .set('Idempotency-Key', key)
        .send({ flow_id: flowId, input: { file_key: 'a.pdf' } });
    const answers = await Promise.all(Array.from({ length: 10 }, send));

    expect(await executionsOf(flowId)).toBe(1);
    const created = answers.filter((r) => r.status === 201);
    const busy = answers.filter((r) => r.status === 409);
    expect(created.length + busy.length).toBe(10);
    expect(created.filter((r) => r.headers['idempotent-replayed'] === undefined)).toHaveLength(1);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    for (const r of busy) {
      expectEnvelope(r, 409, 'idempotency_key_in_use');
      expect(r.headers['retry-after']).toBe('1');
    }
    const retried = await send();
    expect(retried.status).toBe(201);
    expect(retried.body.id).toBe(created[0].body.id);
  });

  it('scopes keys to the organization', async () => {
    const [a, b] = [await newOrg(), await newOrg()];
    const [flowA, flowB] = [await createFlow(t, a.auth), await createFlow(t, b.auth)];
    const key = 'shared-key';
    const ra = await t.http().post(CREATE).set(a.auth()).set('Idempotency-Key', key).send({ flow_id: flowA, input: {} }).expect(201);
    const rb = await t.http().post(CREATE).set(b.auth()).set('Idempotency-Key', key).send({ flow_id: flowB, input: {} }).expect(201);
    expect(rb.headers['idempotent-replayed']).toBeUndefined();
    expect(rb.body.id).not.toBe(ra.body.id);
    expect(rb.body.organization_id).toBe(b.id);
  });

  it('forgets a key after IDEMPOTENCY_TTL_HOURS, and the sweep removes it', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const key = randomUUID();
    const first = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', key).send({ flow_id: flowId, input: {} }).expect(201);
    await t.dataSource.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE organization_id = $1`, [org.id]);
    const later = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', key).send({ flow_id: flowId, input: {} }).expect(201);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(later.body.id).not.toBe(first.body.id);

    const other = randomUUID();
    await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', other).send({ flow_id: flowId, input: {} }).expect(201);
    await t.dataSource.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE organization_id = $1 AND key = $2`, [org.id, other]);
    expect(await t.app.get(IdempotencyStore).purgeExpired()).toBeGreaterThanOrEqual(1);
    const left = await t.dataSource.query(`SELECT key FROM idempotency_keys WHERE organization_id = $1`, [org.id]);
    expect(left).toEqual([{ key }]);
  });

  it('does not keep validation errors (the client fixes the body and retries with the key) but replays a 404', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const key = randomUUID();
    const bad = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', key).send({ flow_id: flowId });
    expect(bad.status).toBe(422);
    const fixed = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', key).send({ flow_id: flowId, input: {} });
    expect(fixed.status).toBe(201);
    expect(fixed.headers['idempotent-replayed']).toBeUndefined();

    const missing = { flow_id: randomUUID(), input: {} };
    const notFound = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', 'k-404').send(missing).expect(404);
    const replayed = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', 'k-404').send(missing).expect(404);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.body.error).toEqual(notFound.body.error);
  });

  it('answers 400 naming the header for a key that is empty, too long or not printable ASCII', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    for (const key of ['', 'k'.repeat(256), 'clé']) {
      const res = await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', key).send({ flow_id: flowId, input: {} });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'bad_request', message: expect.stringContaining('Idempotency-Key') });
    }
    await t.http().post(CREATE).set(org.auth()).set('Idempotency-Key', 'k'.repeat(255)).send({ flow_id: flowId, input: {} }).expect(201);
    expect(await executionsOf(flowId)).toBe(1);
  });

  it('is taken by cancel: a replay does not cancel the re-executed run', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const { id } = await createExecution(t, org.auth, flowId);
    const cancel = () => t.http().post(`${CREATE}/${id}/cancel`).set(org.auth()).set('Idempotency-Key', 'cancel-1');
    expect((await cancel()).status).toBe(204);
    await t.http().patch(`${CREATE}/${id}/status?status=cancelled`).set(org.auth('worker')).expect(200);
    await t.http().post(`${CREATE}/${id}/execute`).set(org.auth()).expect(204);
    const replay = await cancel();
    expect(replay.status).toBe(204);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect((await t.http().get(`${CREATE}/${id}`).set(org.auth()).expect(200)).body.status).toBe('running');
    const [row] = await t.dataSource.query(`SELECT operation FROM idempotency_keys WHERE organization_id = $1`, [org.id]);
    expect(row.operation).toBe('POST /api/flow-executions/:flow_execution_id/cancel');
  });

  it('is taken by execute: a replay does not start the completed run again', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const { id } = await createExecution(t, org.auth, flowId);
    const execute = () => t.http().post(`${CREATE}/${id}/execute?only_stale=false`).set(org.auth()).set('Idempotency-Key', 'rerun-1');
    expect((await execute()).status).toBe(204);
    await t.http().patch(`${CREATE}/${id}/status?status=completed`).set(org.auth('worker')).expect(200);
    const replay = await execute();
    expect(replay.status).toBe(204);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect((await t.http().get(`${CREATE}/${id}`).set(org.auth()).expect(200)).body.status).toBe('completed');
    const otherQuery = await t.http().post(`${CREATE}/${id}/execute?only_stale=true`).set(org.auth()).set('Idempotency-Key', 'rerun-1');
    expect(otherQuery.status).toBe(422);
  });

  it('is taken by POST /api/task-executions: a replay is not a duplicate', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const { id } = await createExecution(t, org.auth, flowId);
    const body = { flow_execution_id: id, task_name: 'receive', task_execution_idx: 0, processing_status: 'running' };
    const send = () => t.http().post('/api/task-executions').set(org.auth('worker')).set('Idempotency-Key', 'task-1').send(body);
    const first = await send();
    expect(first.status).toBe(201);
    const replay = await send();
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    await t.http().post('/api/task-executions').set(org.auth('worker')).send(body).expect(409);
  });

  it('changes nothing for a caller the guard refuses', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    await t.http().post(CREATE).set(org.auth('worker')).set('Idempotency-Key', 'k').send({ flow_id: flowId, input: {} }).expect(403);
    await t.http().post(CREATE).set('Idempotency-Key', 'k').send({ flow_id: flowId, input: {} }).expect(401);
    expect(await t.dataSource.query(`SELECT 1 FROM idempotency_keys WHERE organization_id = $1`, [org.id])).toEqual([]);
  });
});
