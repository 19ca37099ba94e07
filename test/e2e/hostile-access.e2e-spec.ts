import { randomBytes } from 'node:crypto';
import { QueryRunner } from 'typeorm';
import { driverPool } from '../../src/database/driver-pool';
import { WebhookSecretHygiene1765200000010 } from '../../src/database/migrations/1765200000010-WebhookSecretHygiene';
import { CredentialChanges } from '../../src/common/auth/credential-changes';
import { WebhooksService } from '../../src/webhooks/webhooks.service';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { eventually } from '../utils/eventually';
import { newOrg } from '../utils/tokens';

type Org = Awaited<ReturnType<typeof newOrg>>;
const EXECUTIONS = '/api/flow-executions';
// A public address given as a literal: no DNS lookup, and nothing is delivered (no worker).
const HOOK_URL = 'http://8.8.8.8/hook';

/**
 * Hostile access: callers that try to do more than their role allows, retries that would hand out a
 * secret again, webhook URLs that probe the internal network, and unknown API keys used to load
 * the database.
 */
describe('hostile access', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ WEBHOOK_WORKER: 'false' });
  });
  afterAll(() => t?.close());

  describe('PATCH .../status: a worker reports progress, it does not decide for users', () => {
    const patch = (org: Org, id: string, status: string, role: 'worker' | 'backoffice' = 'worker') =>
      t.http().patch(`${EXECUTIONS}/${id}/status`).query({ status }).set(org.auth(role));
    const row = async (id: string) =>
      (await t.dataSource.query(`SELECT status, modified_by, updated_at FROM flow_executions WHERE id = $1`, [id]))[0] as {
        status: string;
        modified_by: string;
        updated_at: Date;
      };
    const events = async (id: string) => Number((await t.dataSource.query(`SELECT count(*) FROM flow_events WHERE flow_execution_id = $1`, [id]))[0].count);

    /** A run in `status`, with its organization. */
    const runIn = async (status: 'running' | 'queued' | 'awaiting_input' | 'cancel_requested') => {
      const org = await newOrg();
      if (status === 'queued') await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 1 }).expect(200);
      const flowId = await createFlow(t, org.auth);
      if (status === 'queued') await createExecution(t, org.auth, flowId);
      const run = await createExecution(t, org.auth, flowId);
      if (status === 'awaiting_input') {
        await t
          .http()
          .post(`${EXECUTIONS}/${run.id}/task-status`)
          .set(org.auth('worker'))
          .send({ statuses: [{ task_name: 'review', status: 'awaiting_input' }] })
          .expect(200);
      }
      if (status === 'cancel_requested') await t.http().post(`${EXECUTIONS}/${run.id}/cancel`).set(org.auth('app_user')).expect(204);
      expect((await row(run.id)).status).toBe(status);
      return { org, id: run.id };
    };

    it.each([
      ['running', 'deleted'],
      ['queued', 'deleted'],
      ['running', 'cancel_requested'],
      ['awaiting_input', 'cancel_requested'],
      ['queued', 'cancelled'],
    ] as const)('refuses a worker %s → %s with 403 naming executions:write, and changes nothing', async (from, to) => {
      const { org, id } = await runIn(from);
      const before = await row(id);
      const eventsBefore = await events(id);
      const res = await patch(org, id, to).expect(403);
      expect(res.body).toEqual({
        error: { code: 'forbidden', message: expect.stringContaining("needs permission 'executions:write'"), details: null },
        request_id: res.headers['x-request-id'],
      });
      expect(res.body.error.message).toContain(`from '${from}' to '${to}'`);
      expect(await row(id)).toEqual(before);
      expect(await events(id)).toBe(eventsBefore);
      // DELETE said so already; the status route now agrees.
      await t.http().delete(`${EXECUTIONS}/${id}`).set(org.auth('worker')).expect(403);
    });

    it.each([
      ['running', 'deleted'],
      ['running', 'cancel_requested'],
      ['queued', 'cancelled'],
    ] as const)('lets backoffice, which holds both permissions, move %s → %s', async (from, to) => {
      const { org, id } = await runIn(from);
      await patch(org, id, to, 'backoffice').expect(200);
      expect((await row(id)).status).toBe(to);
    });

    it('lets a worker acknowledge a cancellation and report progress', async () => {
      const cancelling = await runIn('cancel_requested');
      const ack = await patch(cancelling.org, cancelling.id, 'cancelled').expect(200);
      expect(ack.body).toMatchObject({ status: 'cancelled', modified_by: 'user-worker' });

      const running = await runIn('running');
      await patch(running.org, running.id, 'completed').expect(200);
      await patch(running.org, running.id, 'stale').expect(200);
    });

    it('judges the move on the current status: a worker cannot cancel a queued run, but acknowledges a requested cancellation', async () => {
      const queued = await runIn('queued');
      await patch(queued.org, queued.id, 'cancelled').expect(403);
      // The same request once the run has started and a user has asked to cancel it: allowed.
      const first = (await t.dataSource.query(`SELECT id FROM flow_executions WHERE organization_id = $1 AND status = 'running'`, [queued.org.id]))[0].id;
      await patch(queued.org, first, 'completed').expect(200);
      expect((await row(queued.id)).status).toBe('running');
      await t.http().post(`${EXECUTIONS}/${queued.id}/cancel`).set(queued.org.auth('app_user')).expect(204);
      await patch(queued.org, queued.id, 'cancelled').expect(200);
    });
  });
  describe('retrying POST /api/webhooks never stores the signing secret', () => {
    const create = (org: Org, key: string) => t.http().post('/api/webhooks').set(org.auth()).set('Idempotency-Key', key).send({ url: HOOK_URL });
    const kept = async (org: Org) =>
      (
        await t.dataSource.query(`SELECT response_body::text AS body FROM idempotency_keys WHERE organization_id = $1 AND operation = 'POST /api/webhooks'`, [
          org.id,
        ])
      )[0].body as string;
    const webhooks = async (org: Org) => Number((await t.dataSource.query(`SELECT count(*) FROM webhooks WHERE organization_id = $1`, [org.id]))[0].count);

    it('keeps the answer without the secret, and replays it with the secret while the webhook has it', async () => {
      const org = await newOrg();
      const first = await create(org, 'hook-1').expect(201);
      const secret: string = first.body.secret;
      expect(secret).toMatch(/^whsec_/);
      const body = await kept(org);
      expect(body).toContain(first.body.id);
      expect(body).not.toContain(secret.slice('whsec_'.length));
      expect(body).not.toContain('whsec_');

      const replay = await create(org, 'hook-1').expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect(await webhooks(org)).toBe(1);
    });

    it('refuses the replay with 409 once the secret was rotated, or the webhook deleted, and creates nothing', async () => {
      const org = await newOrg();
      const first = await create(org, 'hook-2').expect(201);
      const rotated = await t.http().post(`/api/webhooks/${first.body.id}/rotate-secret`).set(org.auth()).expect(200);
      const refused = await create(org, 'hook-2').expect(409);
      expect(refused.body.error).toEqual({ code: 'conflict', message: expect.stringContaining('was rotated since'), details: null });
      expect(refused.headers['idempotent-replayed']).toBeUndefined();
      expect(JSON.stringify(refused.body)).not.toContain('whsec_');
      expect(await webhooks(org)).toBe(1);
      // Still refused (not a new webhook) and the rotated secret is untouched.
      await create(org, 'hook-2').expect(409);
      const [{ secret }] = await t.dataSource.query(`SELECT secret FROM webhooks WHERE id = $1`, [first.body.id]);
      expect(secret).toBe(rotated.body.secret);

      await t.http().delete(`/api/webhooks/${first.body.id}`).set(org.auth()).expect(204);
      const gone = await create(org, 'hook-2').expect(409);
      expect(gone.body.error.message).toContain('has been deleted since');
      expect(await webhooks(org)).toBe(0);
    });

    it('the migration replaces a secret kept by an earlier version with its digest, which still replays', async () => {
      const org = await newOrg();
      const first = await create(org, 'hook-3').expect(201);
      // As an earlier version kept it: the whole answer, secret included.
      await t.dataSource.query(`UPDATE idempotency_keys SET response_body = $2::jsonb WHERE organization_id = $1 AND key = 'hook-3'`, [
        org.id,
        JSON.stringify(first.body),
      ]);
      expect(await kept(org)).toContain(first.body.secret);
      const runner: QueryRunner = t.dataSource.createQueryRunner();
      try {
        await new WebhookSecretHygiene1765200000010().up(runner);
      } finally {
        await runner.release();
      }
      expect(await kept(org)).not.toContain('whsec_');
      const replay = await create(org, 'hook-3').expect(201);
      expect(replay.body).toEqual(first.body);
    });

    it('clears previous_secret in the database once its 24 hours end', async () => {
      const org = await newOrg();
      const [expired, current] = await Promise.all([create(org, 'a').expect(201), create(org, 'b').expect(201)]);
      for (const hook of [expired, current]) await t.http().post(`/api/webhooks/${hook.body.id}/rotate-secret`).set(org.auth()).expect(200);
      await t.dataSource.query(`UPDATE webhooks SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1`, [expired.body.id]);

      // Two replicas sweeping at once: each row is cleared once, neither waits on the other.
      const service = t.app.get(WebhooksService);
      const [a, b] = await Promise.all([service.clearExpiredSecrets(), service.clearExpiredSecrets()]);
      expect(a + b).toBeGreaterThanOrEqual(1);
      const rows = await t.dataSource.query(`SELECT id, previous_secret, previous_secret_expires_at FROM webhooks WHERE organization_id = $1`, [org.id]);
      const byId = Object.fromEntries(rows.map((r: { id: string }) => [r.id, r]));
      expect(byId[expired.body.id]).toMatchObject({ previous_secret: null, previous_secret_expires_at: null });
      expect(byId[current.body.id].previous_secret).toMatch(/^whsec_/);
      expect(byId[current.body.id].previous_secret_expires_at.getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    });
  });
  describe('webhook URLs: no way into the internal network, and no DNS oracle', () => {
    const register = (org: Org, url: string) => t.http().post('/api/webhooks').set(org.auth()).send({ url });

    it.each([
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:7f00:1]/hook',
      'http://[::ffff:a9fe:a9fe]/latest/meta-data',
      'http://[2002:7f00:1::1]/hook',
      'http://[2002:a9fe:a9fe::1]/hook',
      'http://[64:ff9b::7f00:1]/hook',
      'http://[64:ff9b::a9fe:a9fe]/hook',
      'http://[64:ff9b:1::a00:1]/hook',
      'http://[fec0::1]/hook',
    ])('refuses %s with a 400 and creates nothing', async (url) => {
      const org = await newOrg();
      const res = await register(org, url).expect(400);
      expect(res.body.error).toMatchObject({ code: 'bad_request', message: expect.stringContaining('is not a public address') });
      const ok = await register(org, HOOK_URL).expect(201);
      await t.http().patch(`/api/webhooks/${ok.body.id}`).set(org.auth()).send({ url }).expect(400);
      const hooks = (await t.http().get('/api/webhooks').set(org.auth()).expect(200)).body;
      expect(hooks.map((h: { url: string }) => h.url)).toEqual([HOOK_URL]);
    });

    it('names the host, never the address it resolves to, and answers alike for a name that does not resolve', async () => {
      const org = await newOrg();
      const internal = await register(org, 'http://localhost:8080/hook').expect(400);
      const missing = await register(org, 'http://no-such-host.invalid/hook').expect(400);
      expect(internal.body.error.message).toBe("The URL's host localhost does not resolve to a public address");
      // The two answers differ only by the host: whether an internal name exists is not told.
      expect(missing.body.error.message).toBe(internal.body.error.message.replace('localhost', 'no-such-host.invalid'));
      for (const res of [internal, missing]) expect(JSON.stringify(res.body)).not.toMatch(/127\.0\.0\.1|::1|resolves to/);
    });
  });
  describe('unknown API keys cannot be used to load the database', () => {
    let keyLookups: number;
    beforeEach(() => {
      keyLookups = 0;
      const pool = driverPool(t.dataSource);
      const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
      // Counts the statements that look a key up, however they are sent (named or not).
      jest.spyOn(pool, 'query').mockImplementation(((statement: string | { text: string }, ...rest: unknown[]) => {
        if ((typeof statement === 'string' ? statement : statement.text).includes('FROM api_keys k')) keyLookups++;
        return query(statement, ...rest);
      }) as typeof pool.query);
    });
    afterEach(() => jest.restoreAllMocks());

    const randomKey = () => ({ 'X-API-Key': `saf_${randomBytes(24).toString('base64url')}` });
    const flows = (headers: Record<string, string>) => t.http().get('/api/flows').set(headers);
    const generationChange = async (before: number) => {
      const notifier = t.app.get(CredentialChanges);
      await eventually(() => notifier.credentialsGeneration !== before, Boolean, 2_000).catch(() => undefined);
      expect(notifier.credentialsGeneration).not.toBe(before);
    };

    it('costs one query per key, however many requests send it, at once or one after another', async () => {
      const key = randomKey();
      const concurrent = await Promise.all(Array.from({ length: 20 }, () => flows(key)));
      for (let i = 0; i < 30; i++) concurrent.push(await flows(key));
      for (const res of concurrent) expect([res.status, res.body.error.code]).toEqual([401, 'unauthorized']);
      expect(keyLookups).toBe(1);

      // Each other key costs its own query: the cache is per key, not a blanket refusal.
      const others = Array.from({ length: 5 }, randomKey);
      for (const other of others) await flows(other).expect(401);
      for (const other of others) await flows(other).expect(401);
      expect(keyLookups).toBe(6);
    });

    it('forgets unknown keys when credentials change: a re-enabled account works at once', async () => {
      const org = await newOrg();
      const account = (await t.http().post('/api/service-accounts').set(org.auth()).send({ name: 'ingest', role: 'worker' }).expect(201)).body;
      const key = (await t.http().post(`/api/service-accounts/${account.id}/api-keys`).set(org.auth()).send({ name: 'k' }).expect(201)).body;
      const headers = { 'X-API-Key': key.token as string };
      await flows(headers).expect(200);

      const notifier = t.app.get(CredentialChanges);
      let generation = notifier.credentialsGeneration;
      await t.dataSource.query(`UPDATE service_accounts SET status = 'inactive' WHERE id = $1`, [account.id]);
      await generationChange(generation);
      keyLookups = 0;
      for (let i = 0; i < 10; i++) await flows(headers).expect(401);
      expect(keyLookups).toBe(1);

      generation = notifier.credentialsGeneration;
      await t.dataSource.query(`UPDATE service_accounts SET status = 'active' WHERE id = $1`, [account.id]);
      await generationChange(generation);
      await flows(headers).expect(200);
      expect(keyLookups).toBe(2);
    });
  });
});
