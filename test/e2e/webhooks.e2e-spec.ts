import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { Role } from '../../src/common/auth/permissions';
import { EVENT_TYPES } from '../../src/event-log/event-types';
import { DeliveryWorker } from '../../src/webhooks/delivery-worker';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { newOrg } from '../utils/tokens';
import { eventually } from '../utils/eventually';
import { WebhookReceiver } from '../utils/webhook-receiver';

type Org = Awaited<ReturnType<typeof newOrg>>;
type Attempt = {
  id: string;
  delivery_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  response_status: number | null;
  error: string | null;
  duration_ms: number;
  attempted_at: string;
  next_attempt_at: string | null;
  status: string;
};

// Short retries, a short window and a low disable threshold keep the schedule within seconds.
const ENV = {
  WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
  WEBHOOK_RETRY_BASE_MS: '50',
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_RETRY_WINDOW_MS: '3000',
  WEBHOOK_DISABLE_AFTER: '2',
};

describe('webhooks', () => {
  let t: TestApp;
  let replica: TestApp; // a second replica on the same database: both run delivery workers
  let strict: TestApp; // the default: private addresses refused (no worker, so it never touches the others' deliveries)
  const receivers: WebhookReceiver[] = [];

  beforeAll(async () => {
    [t, replica, strict] = await Promise.all([createTestApp(ENV), createTestApp(ENV), createTestApp({ WEBHOOK_WORKER: 'false' })]);
  });
  afterAll(async () => {
    await Promise.all([t.close(), replica.close(), strict.close()]);
    await Promise.all(receivers.map((r) => r.close()));
  });

  const receiver = async (...args: Parameters<typeof WebhookReceiver.start>) => {
    const r = await WebhookReceiver.start(...args);
    receivers.push(r);
    return r;
  };
  const register = async (org: Org, body: Record<string, unknown>) => {
    const res = await t.http().post('/api/webhooks').set(org.auth()).send(body);
    expect(res.status).toBe(201);
    return res.body as { id: string; secret: string; status: string; event_types: string[] };
  };
  const log = async (org: Org, id: string, query: Record<string, string | number> = {}): Promise<Attempt[]> =>
    (await t.http().get(`/api/webhooks/${id}/deliveries`).query(query).set(org.auth()).expect(200)).body.deliveries;

  describe('CRUD', () => {
    it('creates with a secret shown once, lists oldest first, reads, updates and deletes', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const res = await t.http().post('/api/webhooks').set(org.auth()).send({ url: 'https://hooks.example.com/a', description: 'ours' });
      expect(res.status).toBe(201);
      const created = res.body;
      expect(created).toEqual({
        id: expect.any(String),
        organization_id: org.id,
        url: 'https://hooks.example.com/a',
        event_types: [...EVENT_TYPES],
        flow_id: null,
        description: 'ours',
        status: 'enabled',
        disabled_reason: null,
        consecutive_failures: 0,
        created_at: expect.any(String),
        updated_at: expect.any(String),
        modified_by: 'user-org_admin',
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
      });
      expect(Buffer.from(created.secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);

      const second = await register(org, { url: 'https://hooks.example.com/b', event_types: ['flow_execution.deleted'], flow_id: flowId });
      expect(second.event_types).toEqual(['flow_execution.deleted']);
      expect(second.secret).not.toBe(created.secret);

      const list = await t.http().get('/api/webhooks').set(org.auth()).expect(200);
      expect(list.body.map((w: { id: string }) => w.id)).toEqual([created.id, second.id]);
      const one = await t.http().get(`/api/webhooks/${created.id}`).set(org.auth('backoffice')).expect(200);
      const { secret: _, ...withoutSecret } = created;
      expect(one.body).toEqual(withoutSecret);
      expect(JSON.stringify(list.body)).not.toContain(created.secret);

      const patched = await t
        .http()
        .patch(`/api/webhooks/${created.id}`)
        .set(org.auth('backoffice'))
        .send({
          url: 'https://hooks.example.com/c',
          event_types: ['task_execution.updated'],
          flow_id: flowId,
          description: null,
          organization_id: randomUUID(),
        })
        .expect(200);
      expect(patched.body).toMatchObject({
        url: 'https://hooks.example.com/c',
        event_types: ['task_execution.updated'],
        flow_id: flowId,
        description: null,
        organization_id: org.id,
        modified_by: 'user-backoffice',
      });
      const reset = await t.http().patch(`/api/webhooks/${created.id}`).set(org.auth()).send({ event_types: null, flow_id: null }).expect(200);
      expect(reset.body).toMatchObject({ event_types: [...EVENT_TYPES], flow_id: null });
      const off = await t.http().patch(`/api/webhooks/${created.id}`).set(org.auth()).send({ status: 'disabled' }).expect(200);
      expect(off.body).toMatchObject({ status: 'disabled', disabled_reason: 'disabled by user-org_admin' });
      const on = await t.http().patch(`/api/webhooks/${created.id}`).set(org.auth()).send({ status: 'enabled' }).expect(200);
      expect(on.body).toMatchObject({ status: 'enabled', disabled_reason: null });

      await t.http().delete(`/api/webhooks/${created.id}`).set(org.auth()).expect(204);
      await t.http().get(`/api/webhooks/${created.id}`).set(org.auth()).expect(404);
      await t.http().delete(`/api/webhooks/${created.id}`).set(org.auth()).expect(404);
      expect((await t.http().get('/api/webhooks').set(org.auth()).expect(200)).body.map((w: { id: string }) => w.id)).toEqual([second.id]);
    });

    it('rotates the secret: a new one, shown once', async () => {
      const org = await newOrg();
      const hook = await register(org, { url: 'https://hooks.example.com/a' });
      const rotated = await t.http().post(`/api/webhooks/${hook.id}/rotate-secret`).set(org.auth()).expect(200);
      expect(rotated.body.secret).toMatch(/^whsec_/);
      expect(rotated.body.secret).not.toBe(hook.secret);
      expect((await t.http().get(`/api/webhooks/${hook.id}`).set(org.auth()).expect(200)).body).not.toHaveProperty('secret');
    });

    it('lets only org_admin and backoffice manage webhooks', async () => {
      const org = await newOrg();
      const hook = await register(org, { url: 'https://hooks.example.com/a' });
      await t.http().post('/api/webhooks').set(org.auth('backoffice')).send({ url: 'https://hooks.example.com/b' }).expect(201);
      for (const role of ['app_user', 'integration', 'publisher', 'worker'] as Role[]) {
        const denied = await t.http().post('/api/webhooks').set(org.auth(role)).send({ url: 'https://hooks.example.com/x' });
        expectEnvelope(denied, 403, 'forbidden');
        await t.http().get('/api/webhooks').set(org.auth(role)).expect(403);
        await t.http().get(`/api/webhooks/${hook.id}`).set(org.auth(role)).expect(403);
        await t.http().get(`/api/webhooks/${hook.id}/deliveries`).set(org.auth(role)).expect(403);
        await t.http().delete(`/api/webhooks/${hook.id}`).set(org.auth(role)).expect(403);
      }
      await t.http().get('/api/webhooks').expect(401);
      await t.http().post('/api/webhooks').send({ url: 'https://hooks.example.com/x' }).expect(401);
      expect((await t.http().get('/api/webhooks').set(org.auth()).expect(200)).body).toHaveLength(2);
    });

    it("answers 403 for another organization's webhook and shows nothing of it", async () => {
      const [org, intruder] = [await newOrg(), await newOrg()];
      const hook = await register(org, { url: 'https://hooks.example.com/a' });
      const calls = [
        t.http().get(`/api/webhooks/${hook.id}`),
        t.http().patch(`/api/webhooks/${hook.id}`).send({ description: 'mine now' }),
        t.http().delete(`/api/webhooks/${hook.id}`),
        t.http().post(`/api/webhooks/${hook.id}/rotate-secret`),
        t.http().get(`/api/webhooks/${hook.id}/deliveries`),
        t.http().post(`/api/webhooks/${hook.id}/deliveries/${randomUUID()}/redeliver`),
      ];
      for (const call of calls) {
        const res = await call.set(intruder.auth());
        expect(res.status).toBe(403);
        expect(JSON.stringify(res.body)).not.toContain('hooks.example.com');
      }
      expect((await t.http().get('/api/webhooks').set(intruder.auth()).expect(200)).body).toEqual([]);
      const still = await t.http().get(`/api/webhooks/${hook.id}`).set(org.auth()).expect(200);
      expect(still.body.description).toBeNull();
    });

    it('answers 404 for a missing webhook or delivery, 400 for a malformed id, 422 for bad input, and changes nothing', async () => {
      const org = await newOrg();
      const missing = randomUUID();
      await t.http().get(`/api/webhooks/${missing}`).set(org.auth()).expect(404);
      await t.http().patch(`/api/webhooks/${missing}`).set(org.auth()).send({ description: 'x' }).expect(404);
      await t.http().post(`/api/webhooks/${missing}/rotate-secret`).set(org.auth()).expect(404);
      await t.http().get(`/api/webhooks/${missing}/deliveries`).set(org.auth()).expect(404);
      const hook = await register(org, { url: 'https://hooks.example.com/a' });
      const res404 = await t.http().post(`/api/webhooks/${hook.id}/deliveries/${missing}/redeliver`).set(org.auth()).expect(404);
      expect(res404.body.error).toEqual({ code: 'not_found', message: 'Webhook delivery not found', details: null });
      const bad = await t.http().get('/api/webhooks/not-a-uuid').set(org.auth()).expect(400);
      expect(bad.body.error.message).toBe('Invalid webhook ID format');
      await t.http().post(`/api/webhooks/${hook.id}/deliveries/nope/redeliver`).set(org.auth()).expect(400);
      await t.http().post('/api/webhooks').set(org.auth()).send({ url: 'https://hooks.example.com/a', flow_id: randomUUID() }).expect(404);

      for (const body of [
        {},
        { url: 42 },
        { url: 'https://hooks.example.com/a', event_types: ['flow_execution.exploded'] },
        { url: 'https://hooks.example.com/a', event_types: [] },
        { url: 'https://hooks.example.com/a', event_types: 'flow_execution.created' },
        { url: 'https://hooks.example.com/a', flow_id: 'nope' },
        { url: 'https://hooks.example.com/a', description: 'x'.repeat(1001) },
      ]) {
        const res = await t.http().post('/api/webhooks').set(org.auth()).send(body);
        expectEnvelope(res, 422, 'validation_error');
        expect(res.body.detail[0].loc[0]).toBe('body');
      }
      const badStatus = await t.http().patch(`/api/webhooks/${hook.id}`).set(org.auth()).send({ status: 'paused' });
      expect(badStatus.status).toBe(422);
      for (const query of [{ status: 'lost' }, { limit: 0 }, { limit: 1001 }, { after: 'x' }]) {
        await t.http().get(`/api/webhooks/${hook.id}/deliveries`).query(query).set(org.auth()).expect(422);
      }
      const list = await t.http().get('/api/webhooks').set(org.auth()).expect(200);
      expect(list.body).toHaveLength(1);
      expect(list.body[0]).toMatchObject({ status: 'enabled', url: 'https://hooks.example.com/a' });
    });
  });

  describe('SSRF', () => {
    it('refuses loopback, private, link-local and unspecified hosts, and other schemes, with a 400 at create and update', async () => {
      const org = await newOrg();
      const urls = [
        'http://127.0.0.1:8080/hook',
        'http://localhost/hook',
        'http://[::1]/hook',
        'http://10.1.2.3/hook',
        'http://172.16.0.5/',
        'http://192.168.0.10/',
        'http://169.254.169.254/latest/meta-data/',
        'http://0.0.0.0/',
        'http://[::]/',
        'http://[fd00::1]/',
        'http://[fe80::1]/',
        'http://[::ffff:127.0.0.1]/',
        'http://2130706433/',
        'ftp://hooks.example.com/',
        'file:///etc/passwd',
      ];
      for (const url of urls) {
        const res = await strict.http().post('/api/webhooks').set(org.auth()).send({ url });
        expect([url, res.status, res.body.error?.code]).toEqual([url, 400, 'bad_request']);
      }
      const ok = await strict.http().post('/api/webhooks').set(org.auth()).send({ url: 'http://93.184.215.14/hook' }).expect(201);
      const res = await strict.http().patch(`/api/webhooks/${ok.body.id}`).set(org.auth()).send({ url: 'http://127.0.0.1/hook' }).expect(400);
      expect(res.body.error.message).toContain('not a public address');
      expect((await strict.http().get(`/api/webhooks/${ok.body.id}`).set(org.auth()).expect(200)).body.url).toBe('http://93.184.215.14/hook');
      expect((await strict.http().get('/api/webhooks').set(org.auth()).expect(200)).body).toHaveLength(1);
    });
  });

  describe('delivery', () => {
    it('POSTs each matching event, signed per Standard Webhooks, with the body exactly as the feed shows it', async () => {
      const org = await newOrg();
      const r = await receiver();
      const hook = await register(org, { url: r.url() });
      const flowId = await createFlow(t, org.auth);
      const execution = await createExecution(t, org.auth, flowId);
      const [got] = await r.waitFor(1);

      const feed = await t.http().get('/api/flow-executions/events').set(org.auth()).expect(200);
      expect(feed.body.events).toHaveLength(1);
      expect(got.body).toBe(JSON.stringify(feed.body.events[0]));
      expect(JSON.parse(got.body)).toMatchObject({ type: 'flow_execution.created', flow_execution: { id: execution.id, run_number: 1 } });
      expect(got.headers['webhook-id']).toBe(feed.body.events[0].id);
      expect(got.headers['content-type']).toBe('application/json');
      expect(got.headers['user-agent']).toMatch(/^flow-execution-service/);
      expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
      const headers = got.headers as Record<string, string>;
      expect(new Webhook(hook.secret).verify(got.body, headers)).toEqual(JSON.parse(got.body));
      expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(got.body, headers)).toThrow();
      expect(() => new Webhook(hook.secret).verify(got.body.replace('running', 'failed'), headers)).toThrow();

      const attempts = await eventually(
        () => log(org, hook.id),
        (a) => a.length === 1,
      );
      expect(attempts[0]).toEqual({
        id: expect.stringMatching(/^\d+$/),
        delivery_id: expect.any(String),
        event_id: feed.body.events[0].id,
        event_type: 'flow_execution.created',
        attempt: 1,
        response_status: 200,
        error: null,
        duration_ms: expect.any(Number),
        attempted_at: expect.any(String),
        next_attempt_at: null,
        status: 'succeeded',
      });
    });

    it('delivers only the event types and the flow a webhook asks for', async () => {
      const org = await newOrg();
      const [all, deletions, oneFlow] = [await receiver(), await receiver(), await receiver()];
      const [flowA, flowB] = [await createFlow(t, org.auth), await createFlow(t, org.auth)];
      await register(org, { url: all.url() });
      await register(org, { url: deletions.url(), event_types: ['flow_execution.deleted'] });
      await register(org, { url: oneFlow.url(), flow_id: flowB });
      const a = await createExecution(t, org.auth, flowA);
      const b = await createExecution(t, org.auth, flowB);
      await t.http().delete(`/api/flow-executions/${a.id}`).set(org.auth()).expect(204);

      const everything = await all.waitFor(3);
      expect(everything.map((x) => JSON.parse(x.body).type).sort()).toEqual(['flow_execution.created', 'flow_execution.created', 'flow_execution.deleted']);
      const [deleted] = await deletions.waitFor(1);
      expect(JSON.parse(deleted.body)).toMatchObject({ type: 'flow_execution.deleted', flow_execution: { id: a.id } });
      const [ofB] = await oneFlow.waitFor(1);
      expect(JSON.parse(ofB.body)).toMatchObject({ type: 'flow_execution.created', flow_execution: { id: b.id } });
      // The last event of all was delivered everywhere it matched; nothing else arrived.
      expect(deletions.received).toHaveLength(1);
      expect(oneFlow.received).toHaveLength(1);
    });

    it('never delivers one organization’s events to another’s webhook', async () => {
      const [org, other] = [await newOrg(), await newOrg()];
      const [mine, theirs] = [await receiver(), await receiver()];
      await register(org, { url: mine.url() });
      await register(other, { url: theirs.url() });
      await createExecution(t, org.auth, await createFlow(t, org.auth));
      await createExecution(t, other.auth, await createFlow(t, other.auth));
      const [m] = await mine.waitFor(1);
      const [o] = await theirs.waitFor(1);
      expect(JSON.parse(m.body).flow_execution.organization_id).toBe(org.id);
      expect(JSON.parse(o.body).flow_execution.organization_id).toBe(other.id);
    });

    it('retries failures with backoff until success, with the same webhook-id, and logs each attempt', async () => {
      const org = await newOrg();
      const r = await receiver((_, n) => (n < 2 ? 503 : 204));
      const hook = await register(org, { url: r.url() });
      await createExecution(t, org.auth, await createFlow(t, org.auth));
      const got = await r.waitFor(3);
      expect(new Set(got.map((x) => x.headers['webhook-id'])).size).toBe(1);
      for (const x of got) expect(new Webhook(hook.secret).verify(x.body, x.headers as Record<string, string>)).toBeTruthy();
      expect(got[1].body).toBe(got[0].body);

      const attempts = await eventually(
        () => log(org, hook.id),
        (a) => a.length === 3,
      );
      expect(attempts.map((a) => [a.attempt, a.response_status, a.status])).toEqual([
        [3, 204, 'succeeded'],
        [2, 503, 'succeeded'],
        [1, 503, 'succeeded'],
      ]);
      expect(new Set(attempts.map((a) => a.delivery_id)).size).toBe(1);
      expect(attempts[0].next_attempt_at).toBeNull();
      for (const failed of attempts.slice(1)) {
        expect(Date.parse(failed.next_attempt_at!)).toBeGreaterThan(Date.parse(failed.attempted_at));
      }
      // Doubling: the second wait is longer than the first (jitter is within 20 %).
      const wait = (a: Attempt) => Date.parse(a.next_attempt_at!) - Date.parse(a.attempted_at);
      expect(wait(attempts[1])).toBeGreaterThan(wait(attempts[2]));

      const page1 = await log(org, hook.id, { limit: 2 });
      expect(page1.map((a) => a.attempt)).toEqual([3, 2]);
      const first = await t.http().get(`/api/webhooks/${hook.id}/deliveries`).query({ limit: 2 }).set(org.auth()).expect(200);
      expect(first.body.next_cursor).toBe(page1[1].id);
      const rest = await t.http().get(`/api/webhooks/${hook.id}/deliveries`).query({ limit: 2, after: first.body.next_cursor }).set(org.auth()).expect(200);
      expect(rest.body).toEqual({ deliveries: [attempts[2]], next_cursor: null });
      expect(await log(org, hook.id, { status: 'failed' })).toEqual([]);
      expect(await log(org, hook.id, { status: 'succeeded' })).toHaveLength(3);
    });

    it('does not follow redirects: a 3xx is a failure', async () => {
      const org = await newOrg();
      const r = await receiver((_, n) => (n === 0 ? 302 : 200));
      const hook = await register(org, { url: r.url() });
      await createExecution(t, org.auth, await createFlow(t, org.auth));
      const got = await r.waitFor(2);
      expect(got.map((x) => x.path)).toEqual(['/hook', '/hook']);
      const attempts = await eventually(
        () => log(org, hook.id),
        (a) => a.length === 2,
      );
      expect(attempts.map((a) => [a.attempt, a.response_status])).toEqual([
        [2, 200],
        [1, 302],
      ]);
    });

    it('records timeouts and network errors as failed attempts, then fails the message after the retry window', async () => {
      const org = await newOrg();
      const r = await receiver(() => 'hang');
      const hook = await register(org, { url: r.url() });
      const dead = await register(org, { url: 'http://127.0.0.1:9/closed' });
      await createExecution(t, org.auth, await createFlow(t, org.auth));
      const timedOut = await eventually(
        () => log(org, hook.id),
        (a) => a.length >= 1,
      );
      expect(timedOut.at(-1)).toMatchObject({ attempt: 1, response_status: null, error: 'timeout after 1000 ms', status: 'pending' });
      const refused = await eventually(
        () => log(org, dead.id),
        (a) => a.length > 0 && a[0].status === 'failed',
      );
      expect(refused.at(-1)).toMatchObject({ attempt: 1, response_status: null, error: 'connection refused (ECONNREFUSED)' });
      expect(refused[0].next_attempt_at).toBeNull();
      expect(refused.length).toBeGreaterThan(2);
      r.release();
    });

    it('stops at DELETE, scheduled retries included', async () => {
      const org = await newOrg();
      const r = await receiver(() => 500);
      const hook = await register(org, { url: r.url() });
      await createExecution(t, org.auth, await createFlow(t, org.auth));
      await r.waitFor(2);
      await t.http().delete(`/api/webhooks/${hook.id}`).set(org.auth()).expect(204);
      const seen = r.received.length;
      const pending = await t.dataSource.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1`, [hook.id]);
      expect(pending[0].n).toBe(0);
      // An attempt already in flight at the DELETE may still land; none starts after it.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(r.received.length).toBeLessThanOrEqual(seen + 1);
    });

    it('sends nothing to a disabled webhook, and resumes with new events once enabled', async () => {
      const org = await newOrg();
      const r = await receiver();
      const hook = await register(org, { url: r.url() });
      const flowId = await createFlow(t, org.auth);
      await t.http().patch(`/api/webhooks/${hook.id}`).set(org.auth()).send({ status: 'disabled' }).expect(200);
      await createExecution(t, org.auth, flowId);
      await t.http().patch(`/api/webhooks/${hook.id}`).set(org.auth()).send({ status: 'enabled' }).expect(200);
      const second = await createExecution(t, org.auth, flowId);
      const [got] = await r.waitFor(1);
      expect(JSON.parse(got.body).flow_execution.id).toBe(second.id);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(r.received).toHaveLength(1);
    });

    it('disables an endpoint after WEBHOOK_DISABLE_AFTER failed messages, and it then receives nothing', async () => {
      const org = await newOrg();
      const r = await receiver(() => 500);
      const hook = await register(org, { url: r.url() });
      const flowId = await createFlow(t, org.auth);
      await createExecution(t, org.auth, flowId);
      await createExecution(t, org.auth, flowId);
      const disabled = await eventually(
        async () => (await t.http().get(`/api/webhooks/${hook.id}`).set(org.auth()).expect(200)).body,
        (w) => w.status === 'disabled',
      );
      expect(disabled).toMatchObject({ status: 'disabled', disabled_reason: '2 consecutive messages failed', consecutive_failures: 2 });
      const seen = r.received.length;
      await createExecution(t, org.auth, flowId);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(r.received).toHaveLength(seen);
      const redeliver = await t
        .http()
        .post(`/api/webhooks/${hook.id}/deliveries/${(await log(org, hook.id))[0].delivery_id}/redeliver`)
        .set(org.auth());
      expect(redeliver.status).toBe(409);
    });

    it('disables an endpoint that has not succeeded for the whole retry window, even below WEBHOOK_DISABLE_AFTER', async () => {
      const org = await newOrg();
      const r = await receiver(() => 500);
      const hook = await register(org, { url: r.url() });
      const flowId = await createFlow(t, org.auth);
      await createExecution(t, org.auth, flowId);
      const first = await eventually(
        () => log(org, hook.id),
        (a) => a.length > 0 && a[0].status === 'failed',
      );
      // One failed message so far (the threshold is 2); the next attempt comes after the window (3 s) has passed.
      const firstAttemptAt = Date.parse(first[first.length - 1].attempted_at);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstAttemptAt + 3100 - Date.now())));
      await createExecution(t, org.auth, flowId);
      const disabled = await eventually(
        async () => (await t.http().get(`/api/webhooks/${hook.id}`).set(org.auth()).expect(200)).body,
        (w) => w.status === 'disabled',
      );
      expect(disabled.disabled_reason).toMatch(/^failing since \d{4}-/);
      expect(disabled.consecutive_failures).toBe(1);
      expect(await log(org, hook.id, { status: 'pending' })).toEqual([]);
    });

    it('redelivers an event as a new message with the same webhook-id', async () => {
      const org = await newOrg();
      const r = await receiver();
      const hook = await register(org, { url: r.url() });
      await createExecution(t, org.auth, await createFlow(t, org.auth));
      const [first] = await r.waitFor(1);
      const [attempt] = await eventually(
        () => log(org, hook.id),
        (a) => a.length === 1,
      );
      const res = await t.http().post(`/api/webhooks/${hook.id}/deliveries/${attempt.delivery_id}/redeliver`).set(org.auth()).expect(202);
      expect(res.body).toEqual({
        delivery_id: expect.any(String),
        event_id: attempt.event_id,
        event_type: 'flow_execution.created',
        status: 'pending',
        created_at: expect.any(String),
      });
      expect(res.body.delivery_id).not.toBe(attempt.delivery_id);
      const [, again] = await r.waitFor(2);
      expect(again.headers['webhook-id']).toBe(first.headers['webhook-id']);
      expect(again.body).toBe(first.body);
      const attempts = await eventually(
        () => log(org, hook.id),
        (a) => a.length === 2,
      );
      expect(attempts[0]).toMatchObject({ delivery_id: res.body.delivery_id, attempt: 1, status: 'succeeded' });
    });

    it('signs with both secrets for a while after a rotation', async () => {
      const org = await newOrg();
      const r = await receiver();
      const hook = await register(org, { url: r.url() });
      const rotated = (await t.http().post(`/api/webhooks/${hook.id}/rotate-secret`).set(org.auth()).expect(200)).body;
      await createExecution(t, org.auth, await createFlow(t, org.auth));
      const [got] = await r.waitFor(1);
      expect((got.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
      const headers = got.headers as Record<string, string>;
      expect(new Webhook(rotated.secret).verify(got.body, headers)).toBeTruthy();
      expect(new Webhook(hook.secret).verify(got.body, headers)).toBeTruthy();
    });

    it('sends each event once across replicas, and a slow endpoint does not hold up another', async () => {
      const org = await newOrg();
      const [slow, fast] = [await receiver(() => 'hang'), await receiver()];
      await register(org, { url: slow.url() });
      await register(org, { url: fast.url() });
      const flowId = await createFlow(t, org.auth);
      const n = 12;
      await Promise.all(Array.from({ length: n }, (_, i) => createExecution(i % 2 ? t : replica, org.auth, flowId)));
      const got = await fast.waitFor(n);
      expect(new Set(got.map((x) => x.headers['webhook-id'])).size).toBe(n);
      // The slow endpoint never had more requests open than its per-endpoint limit on each replica.
      expect(slow.received.length).toBeGreaterThan(0);
      expect(slow.maxOpen).toBeLessThanOrEqual(2 * 4);
      slow.release();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(fast.received).toHaveLength(n);
    });

    it('removes finished deliveries and their log after the retention period, and keeps pending ones', async () => {
      const org = await newOrg();
      const [ok, failing] = [await receiver(), await receiver(() => 'hang')];
      const done = await register(org, { url: ok.url() });
      const waiting = await register(org, { url: failing.url() });
      await createExecution(t, org.auth, await createFlow(t, org.auth));
      await eventually(
        () => log(org, done.id),
        (a) => a.length === 1,
      );
      await eventually(
        () => log(org, waiting.id),
        (a) => a.length === 1,
      );
      const later = new Date(Date.now() + (t.config.eventRetentionHours + 1) * 3_600_000);
      expect(await t.app.get(DeliveryWorker).purgeFinished(later)).toBeGreaterThanOrEqual(1);
      expect(await log(org, done.id)).toEqual([]);
      expect(await log(org, waiting.id)).toHaveLength(1);
      failing.release();
    });
  });
});
