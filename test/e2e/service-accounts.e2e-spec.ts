import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { Response } from 'supertest';
import type { Role } from '../../src/common/auth/permissions';
import { DEMO_ORGANIZATION_ID, ensureDemoOrganization } from '../../src/service-accounts/demo-organization';
import spec from '../contract/superai-flows-openapi.subset.json';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { expectSpecResponse } from '../utils/spec';
import { newOrg } from '../utils/tokens';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TOKEN = /^saf_[A-Za-z0-9_-]{43}$/;

type Org = Awaited<ReturnType<typeof newOrg>>;
type Body = Record<string, unknown>;
type Method = 'get' | 'post' | 'patch' | 'delete';

const OPERATIONS: [RegExp, string][] = [
  [/^\/api\/service-accounts$/, '/api/service-accounts'],
  [/^\/api\/service-accounts\/[^/]+$/, '/api/service-accounts/{service_account_id}'],
  [/^\/api\/service-accounts\/[^/]+\/api-keys$/, '/api/service-accounts/{service_account_id}/api-keys'],
  [/^\/api\/service-accounts\/[^/]+\/api-keys\/[^/]+$/, '/api/service-accounts/{service_account_id}/api-keys/{api_key_id}'],
];
const paths = spec.paths as unknown as Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;

/** Run on every response of this file: the spec's schema wherever it documents the status, the envelope on every error. */
function matchesSpec(res: Response): void {
  const { method, path: url } = (res as unknown as { req: { method: string; path: string } }).req;
  const path = OPERATIONS.find(([pattern]) => pattern.test(url.split('?')[0]))?.[1];
  if (!path) return;
  if (res.status >= 400) {
    const envelope = { error: expect.objectContaining({ code: expect.any(String) }), request_id: res.headers['x-request-id'] };
    expect(res.body).toEqual(res.status === 422 ? { ...envelope, detail: expect.any(Array) } : envelope);
  }
  if (res.status === 204) expect(res.text).toBe('');
  else if (paths[path][method.toLowerCase()].responses[String(res.status)]) expectSpecResponse(method, path, res.status, res.body);
}

/** ServiceAccountResponse (= ServiceAccountCreateResponse): every field of the spec, plus the `role` extension, nothing else. */
function accountShape(expected: { organization_id: string; name: string; description?: string | null; role?: Role; modified_by: string }) {
  return {
    id: expect.stringMatching(UUID),
    created_at: expect.stringMatching(ISO_UTC),
    updated_at: expect.stringMatching(ISO_UTC),
    status: 'active',
    description: null,
    role: 'integration',
    ...expected,
  };
}

/** ApiKeyResponse: every field of the spec and nothing else; never the token. */
function keyShape(expected: { organization_id: string; service_account_id: string; name: string; description?: string | null; modified_by: string }) {
  return {
    id: expect.stringMatching(UUID),
    created_at: expect.stringMatching(ISO_UTC),
    updated_at: expect.stringMatching(ISO_UTC),
    user_id: null,
    description: null,
    token_prefix: expect.stringMatching(/^saf_[A-Za-z0-9_-]{8}$/),
    ...expected,
  };
}

describe('Service accounts and API keys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());
  const http = () => {
    const agent = t.http();
    const checked = (method: Method) => (url: string) => agent[method](url).expect(matchesSpec);
    return { get: checked('get'), post: checked('post'), patch: checked('patch'), delete: checked('delete') };
  };

  const createAccount = async (org: Org, body: Body = {}) =>
    (
      await http()
        .post('/api/service-accounts')
        .set(org.auth())
        .send({ name: 'integration', ...body })
        .expect(201)
    ).body as Body & { id: string };
  const createKey = async (org: Org, accountId: string, body: Body = {}) =>
    (
      await http()
        .post(`/api/service-accounts/${accountId}/api-keys`)
        .set(org.auth())
        .send({ name: 'key', ...body })
        .expect(201)
    ).body as Body & { id: string; token: string; token_prefix: string };
  const apiKey = (token: string) => ({ 'X-API-Key': token });

  describe('service accounts', () => {
    it('creates an account with the spec shape, the default role and the caller as modified_by', async () => {
      const org = await newOrg();
      const res = await http().post('/api/service-accounts').set(org.auth()).send({ name: 'Temporal Worker' }).expect(201);
      expect(res.body).toEqual(accountShape({ organization_id: org.id, name: 'Temporal Worker', modified_by: 'user-org_admin' }));
      expect(res.body.created_at).toBe(res.body.updated_at);
    });

    it('takes description and role, and ignores fields the caller may not set', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const id = randomUUID();
      const res = await t
        .http()
        .post('/api/service-accounts')
        .set(org.auth())
        .send({
          name: 'ci',
          description: 'CI pipeline',
          role: 'publisher',
          organization_id: other.id,
          id,
          status: 'inactive',
          modified_by: 'mallory',
          token: 'saf_x',
        })
        .expect(201);
      expect(res.body).toEqual(
        accountShape({ organization_id: org.id, name: 'ci', description: 'CI pipeline', role: 'publisher', modified_by: 'user-org_admin' }),
      );
      expect(res.body.id).not.toBe(id);
      const otherList = await http().get('/api/service-accounts').set(other.auth()).expect(200);
      expect(otherList.body).toEqual([]);
    });

    it('lists only the organization’s live accounts, oldest first, with offset and limit', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const a = await createAccount(org, { name: 'a' });
      const b = await createAccount(org, { name: 'b', role: 'worker' });
      const c = await createAccount(org, { name: 'c' });
      await createAccount(other, { name: 'foreign' });
      await http().delete(`/api/service-accounts/${b.id}`).set(org.auth()).expect(204);

      const all = await http().get('/api/service-accounts').set(org.auth()).expect(200);
      expect(all.body).toEqual([a, c]);

      const page = await http().get('/api/service-accounts?offset=1&limit=1').set(org.auth()).expect(200);
      expect(page.body).toEqual([c]);
      const past = await http().get('/api/service-accounts?offset=2').set(org.auth()).expect(200);
      expect(past.body).toEqual([]);
    });

    it('ends a page past 4 MiB of descriptions stored before their bound, with a Link to the rest', async () => {
      const org = await newOrg();
      const account = await createAccount(org, { name: 'owner' });
      await Promise.all([0, 1, 2, 3, 4].map((i) => createKey(org, account.id, { name: `k${i}` })));
      // Descriptions of 1 MiB, as the service took them before DESCRIPTION_MAX_LENGTH: three of them and their rows fill a page.
      const MiB = 1024 * 1024;
      await t.dataSource.query(
        `INSERT INTO service_accounts (organization_id, name, description, modified_by, created_at)
         SELECT $1, 'legacy-' || i, repeat('d', $2), 'test', now() + i * interval '1 second' FROM generate_series(1, 5) i`,
        [org.id, MiB],
      );
      await t.dataSource.query(`UPDATE api_keys SET description = repeat('d', $2) WHERE service_account_id = $1`, [account.id, MiB]);

      const first = await http().get('/api/service-accounts?limit=1000').set(org.auth()).expect(200);
      expect(first.body.map((a: Body) => a.name)).toEqual(['owner', 'legacy-1', 'legacy-2', 'legacy-3']);
      expect((first.body[1].description as string).length).toBe(MiB);
      expect(first.headers.link).toBe('</api/service-accounts?limit=1000&offset=4>; rel="next"');
      const rest = await http().get('/api/service-accounts?limit=1000&offset=4').set(org.auth()).expect(200);
      expect(rest.body.map((a: Body) => a.name)).toEqual(['legacy-4', 'legacy-5']);
      expect(rest.headers.link).toBeUndefined();
      // A page the limit ends carries no Link, as before.
      const limited = await http().get('/api/service-accounts?limit=2').set(org.auth()).expect(200);
      expect(limited.body.map((a: Body) => a.name)).toEqual(['owner', 'legacy-1']);
      expect(limited.headers.link).toBeUndefined();

      const keys = `/api/service-accounts/${account.id}/api-keys`;
      const firstKeys = await http().get(`${keys}?offset=1`).set(org.auth()).expect(200);
      expect(firstKeys.body).toHaveLength(3);
      expect(firstKeys.headers.link).toBe(`<${keys}?offset=4>; rel="next"`);
      const restKeys = await http().get(`${keys}?offset=4`).set(org.auth()).expect(200);
      expect(restKeys.body).toHaveLength(1);
      expect(restKeys.headers.link).toBeUndefined();
      const names = [...firstKeys.body, ...restKeys.body].map((k: Body) => k.name).sort();
      const all = await t.dataSource.query(`SELECT name FROM api_keys WHERE service_account_id = $1 ORDER BY created_at, id OFFSET 1`, [account.id]);
      expect(names).toEqual(all.map((k: { name: string }) => k.name).sort());
    });

    it.each([
      ['limit', '0'],
      ['limit', '1001'],
      ['limit', 'ten'],
      ['offset', '-1'],
    ])('answers 422 for %s=%s', async (field, value) => {
      const org = await newOrg();
      const res = await http().get(`/api/service-accounts?${field}=${value}`).set(org.auth()).expect(422);
      expectEnvelope(res, 422, 'validation_error');
      expect(res.body.detail[0].loc).toEqual(['query', field]);
    });

    it('gets an account', async () => {
      const org = await newOrg();
      const account = await createAccount(org, { description: 'd' });
      const res = await http().get(`/api/service-accounts/${account.id}`).set(org.auth()).expect(200);
      expect(res.body).toEqual(account);
    });

    it('updates name, description and role; null keeps the name and clears the description', async () => {
      const org = await newOrg();
      const account = await createAccount(org, { name: 'old', description: 'old description' });

      const renamed = await t
        .http()
        .patch(`/api/service-accounts/${account.id}`)
        .set(org.auth('org_admin'))
        .send({ name: 'new', role: 'backoffice', organization_id: randomUUID(), status: 'inactive' })
        .expect(200);
      expect(renamed.body).toEqual({ ...account, name: 'new', role: 'backoffice', updated_at: expect.stringMatching(ISO_UTC) });
      expect(Date.parse(renamed.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(account.updated_at as string));

      const cleared = await http().patch(`/api/service-accounts/${account.id}`).set(org.auth()).send({ name: null, description: null }).expect(200);
      expect(cleared.body).toEqual({ ...renamed.body, description: null, updated_at: expect.stringMatching(ISO_UTC) });

      const unchanged = await http().patch(`/api/service-accounts/${account.id}`).set(org.auth()).send({}).expect(200);
      expect(unchanged.body).toEqual({ ...cleared.body, updated_at: expect.stringMatching(ISO_UTC) });
      const fetched = await http().get(`/api/service-accounts/${account.id}`).set(org.auth()).expect(200);
      expect(fetched.body).toEqual(unchanged.body);
    });

    it('deletes an account: 204, then 404 everywhere', async () => {
      const org = await newOrg();
      const account = await createAccount(org);
      const key = await createKey(org, account.id);
      const res = await http().delete(`/api/service-accounts/${account.id}`).set(org.auth()).expect(204);
      expect(res.text).toBe('');

      const notFound = { message: 'Service account not found', code: 'not_found', details: null };
      const base = `/api/service-accounts/${account.id}`;
      for (const req of [
        http().get(base),
        http().patch(base).send({ name: 'x' }),
        http().delete(base),
        http().get(`${base}/api-keys`),
        http().post(`${base}/api-keys`).send({ name: 'x' }),
        http().patch(`${base}/api-keys/${key.id}`).send({ name: 'x' }),
        http().delete(`${base}/api-keys/${key.id}`),
      ]) {
        const gone = await req.set(org.auth()).expect(404);
        expect(gone.body.error).toEqual(notFound);
      }
    });
  });

  describe('API keys', () => {
    it('creates a key: the full token once, only its hash stored, the account’s organization', async () => {
      const org = await newOrg();
      const account = await createAccount(org);
      const res = await t
        .http()
        .post(`/api/service-accounts/${account.id}/api-keys`)
        .set(org.auth())
        .send({ name: 'deploy', description: 'for deploys', organization_id: randomUUID(), token: 'saf_mine', service_account_id: randomUUID() })
        .expect(201);
      expect(res.body).toEqual({
        ...keyShape({ organization_id: org.id, service_account_id: account.id, name: 'deploy', description: 'for deploys', modified_by: 'user-org_admin' }),
        token: expect.stringMatching(TOKEN),
      });
      expect(res.body.token_prefix).toBe(res.body.token.slice(0, 12));

      const [row] = await t.dataSource.query('SELECT token_hash, token_prefix FROM api_keys WHERE id = $1', [res.body.id]);
      expect(row.token_prefix).toBe(res.body.token_prefix);
      expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(row)).not.toContain(res.body.token);
    });

    it('never shows the token again: list and patch show only token_prefix', async () => {
      const org = await newOrg();
      const account = await createAccount(org);
      const first = await createKey(org, account.id, { name: 'first' });
      const second = await createKey(org, account.id, { name: 'second' });
      const { token: _firstToken, ...firstListed } = first;
      const { token: _secondToken, ...secondListed } = second;

      const list = await http().get(`/api/service-accounts/${account.id}/api-keys`).set(org.auth()).expect(200);
      expect(list.body).toEqual([firstListed, secondListed]);
      expect(list.body[0]).toEqual(keyShape({ organization_id: org.id, service_account_id: account.id, name: 'first', modified_by: 'user-org_admin' }));
      const page = await http().get(`/api/service-accounts/${account.id}/api-keys?offset=1&limit=5`).set(org.auth()).expect(200);
      expect(page.body).toEqual([secondListed]);

      const patched = await http().patch(`/api/service-accounts/${account.id}/api-keys/${first.id}`).set(org.auth()).send({ name: 'renamed' }).expect(200);
      expect(patched.body).toEqual({ ...firstListed, name: 'renamed', updated_at: expect.stringMatching(ISO_UTC) });

      const fetched = await http().get(`/api/service-accounts/${account.id}`).set(org.auth()).expect(200);
      for (const text of [list.text, page.text, patched.text, fetched.text]) {
        expect(text).not.toContain(first.token);
        expect(text).not.toContain(second.token);
      }
    });

    it('updates a key’s description; null clears it and a null name keeps the name', async () => {
      const org = await newOrg();
      const account = await createAccount(org);
      const { token: _token, ...key } = await createKey(org, account.id, { name: 'k', description: 'd' });
      const url = `/api/service-accounts/${account.id}/api-keys/${key.id}`;
      const described = await http().patch(url).set(org.auth()).send({ description: 'new' }).expect(200);
      expect(described.body).toEqual({ ...key, description: 'new', updated_at: expect.stringMatching(ISO_UTC) });
      const cleared = await http().patch(url).set(org.auth()).send({ name: null, description: null }).expect(200);
      expect(cleared.body).toEqual({ ...key, description: null, updated_at: expect.stringMatching(ISO_UTC) });
    });

    it('authenticates with the account’s role: org_admin manages accounts, integration gets 403', async () => {
      const org = await newOrg();
      const admin = await createAccount(org, { name: 'admin', role: 'org_admin' });
      const adminKey = await createKey(org, admin.id);
      const integration = await createAccount(org, { name: 'integration' });
      const integrationKey = await createKey(org, integration.id);

      const list = await http().get('/api/service-accounts').set(apiKey(adminKey.token)).expect(200);
      expect(list.body.map((a: Body) => a.id)).toEqual([admin.id, integration.id]);

      // A key acts as its service account: that is who modified what it creates.
      const created = await http().post('/api/service-accounts').set(apiKey(adminKey.token)).send({ name: 'made by key' }).expect(201);
      expect(created.body).toEqual(accountShape({ organization_id: org.id, name: 'made by key', modified_by: admin.id }));

      const denied = await http().get('/api/service-accounts').set(apiKey(integrationKey.token)).expect(403);
      expectEnvelope(denied, 403, 'forbidden');
    });

    it('a deleted key answers 401 at once; the account’s other keys keep working', async () => {
      const org = await newOrg();
      const account = await createAccount(org, { role: 'org_admin' });
      const doomed = await createKey(org, account.id, { name: 'doomed' });
      const kept = await createKey(org, account.id, { name: 'kept' });
      await http().get('/api/service-accounts').set(apiKey(doomed.token)).expect(200);

      await http().delete(`/api/service-accounts/${account.id}/api-keys/${doomed.id}`).set(org.auth()).expect(204);

      const res = await http().get('/api/service-accounts').set(apiKey(doomed.token)).expect(401);
      expect(res.body.error).toEqual({ message: 'Invalid API key', code: 'unauthorized', details: null });
      await http().get('/api/service-accounts').set(apiKey(kept.token)).expect(200);

      const list = await http().get(`/api/service-accounts/${account.id}/api-keys`).set(org.auth()).expect(200);
      expect(list.body.map((k: Body) => k.id)).toEqual([kept.id]);
      for (const req of [
        http().delete(`/api/service-accounts/${account.id}/api-keys/${doomed.id}`),
        http().patch(`/api/service-accounts/${account.id}/api-keys/${doomed.id}`).send({ name: 'x' }),
      ]) {
        const gone = await req.set(org.auth()).expect(404);
        expect(gone.body.error).toEqual({ message: 'API key not found', code: 'not_found', details: null });
      }
    });

    it('deleting the account makes all its keys answer 401 at once', async () => {
      const org = await newOrg();
      const account = await createAccount(org, { role: 'org_admin' });
      const keys = [await createKey(org, account.id), await createKey(org, account.id)];
      for (const key of keys) await http().get('/api/service-accounts').set(apiKey(key.token)).expect(200);

      await http().delete(`/api/service-accounts/${account.id}`).set(org.auth()).expect(204);

      for (const key of keys) {
        const res = await http().get('/api/service-accounts').set(apiKey(key.token)).expect(401);
        expectEnvelope(res, 401, 'unauthorized');
      }
      const rows = await t.dataSource.query('SELECT deleted_at FROM api_keys WHERE service_account_id = $1', [account.id]);
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row.deleted_at).toBeInstanceOf(Date);
    });

    it('both headers: the bearer wins', async () => {
      const a = await newOrg();
      const b = await newOrg();
      const aAccount = await createAccount(a, { name: 'of A' });
      const bAdmin = await createAccount(b, { name: 'of B', role: 'org_admin' });
      const bKey = await createKey(b, bAdmin.id);

      const list = await http().get('/api/service-accounts').set(a.auth()).set(apiKey(bKey.token)).expect(200);
      expect(list.body).toEqual([aAccount]);
      const created = await http().post('/api/service-accounts').set(a.auth()).set(apiKey(bKey.token)).send({ name: 'both' }).expect(201);
      expect(created.body).toMatchObject({ organization_id: a.id, modified_by: 'user-org_admin' });

      // The bearer's role decides too, although B's key alone would be allowed.
      await http().get('/api/service-accounts').set(a.auth('app_user')).set(apiKey(bKey.token)).expect(403);
      // And a bad bearer is not rescued by a good key.
      await http().get('/api/service-accounts').set({ Authorization: 'Bearer not.a.jwt' }).set(apiKey(bKey.token)).expect(401);
    });
  });

  describe('access', () => {
    it('another organization’s accounts and keys: 403 with nothing of them, and nothing changes', async () => {
      const owner = await newOrg();
      const intruder = await newOrg();
      const account = await createAccount(owner, { name: 'secret-account-name', description: 'secret description' });
      const key = await createKey(owner, account.id, { name: 'secret-key-name' });
      const intruderAccount = await createAccount(intruder, { name: 'intruder' });

      const base = `/api/service-accounts/${account.id}`;
      const attempts = [
        http().get(base),
        http().patch(base).send({ name: 'hijacked', role: 'org_admin' }),
        http().delete(base),
        http().get(`${base}/api-keys`),
        http().post(`${base}/api-keys`).send({ name: 'backdoor' }),
        http().patch(`${base}/api-keys/${key.id}`).send({ name: 'hijacked' }),
        http().delete(`${base}/api-keys/${key.id}`),
      ];
      for (const req of attempts) {
        const res = await req.set(intruder.auth()).expect(403);
        expectEnvelope(res, 403, 'forbidden');
        for (const secret of ['secret-account-name', 'secret description', 'secret-key-name', key.token_prefix, owner.id]) {
          expect(res.text).not.toContain(secret);
        }
      }
      // Another organization's key under the intruder's own account is simply not there.
      const crossKey = await http().delete(`/api/service-accounts/${intruderAccount.id}/api-keys/${key.id}`).set(intruder.auth()).expect(404);
      expect(crossKey.body.error.message).toBe('API key not found');

      const after = await http().get(base).set(owner.auth()).expect(200);
      expect(after.body).toEqual(account);
      const keys = await http().get(`${base}/api-keys`).set(owner.auth()).expect(200);
      expect(keys.body.map((k: Body) => [k.id, k.name])).toEqual([[key.id, 'secret-key-name']]);
      await http().get('/api/service-accounts').set(apiKey(key.token)).expect(403); // still valid: integration role
    });

    const routes = (accountId: string, keyId: string): [Method, string, Body?][] => [
      ['post', '/api/service-accounts', { name: 'x' }],
      ['get', '/api/service-accounts'],
      ['get', `/api/service-accounts/${accountId}`],
      ['patch', `/api/service-accounts/${accountId}`, { name: 'x' }],
      ['delete', `/api/service-accounts/${accountId}`],
      ['get', `/api/service-accounts/${accountId}/api-keys`],
      ['post', `/api/service-accounts/${accountId}/api-keys`, { name: 'x' }],
      ['patch', `/api/service-accounts/${accountId}/api-keys/${keyId}`, { name: 'x' }],
      ['delete', `/api/service-accounts/${accountId}/api-keys/${keyId}`],
    ];
    const send = (method: Method, url: string, body?: Body) => {
      const req = http()[method](url);
      return body ? req.send(body) : req;
    };

    it.each(['app_user', 'integration', 'publisher', 'worker', 'backoffice'] as Role[])('role %s: 403 on every route, nothing changes', async (role) => {
      const org = await newOrg();
      const account = await createAccount(org);
      const { token: _token, ...key } = await createKey(org, account.id);
      for (const [method, url, body] of routes(account.id, key.id)) {
        const res = await send(method, url, body).set(org.auth(role)).expect(403);
        expect(res.body.error).toEqual({ message: `Role '${role}' does not have permission 'service-accounts:manage'`, code: 'forbidden', details: null });
      }
      const accounts = await http().get('/api/service-accounts').set(org.auth()).expect(200);
      expect(accounts.body).toEqual([account]);
      const keys = await http().get(`/api/service-accounts/${account.id}/api-keys`).set(org.auth()).expect(200);
      expect(keys.body).toEqual([key]);
    });

    it('no credentials: 401 on every route', async () => {
      for (const [method, url, body] of routes(randomUUID(), randomUUID())) {
        const res = await send(method, url, body).expect(401);
        expect(res.body.error).toEqual({ message: 'Authentication required', code: 'unauthorized', details: null });
      }
    });

    it('malformed ids: 400', async () => {
      const org = await newOrg();
      const account = await createAccount(org);
      const accountError = { message: 'Invalid service account ID format', code: 'bad_request', details: null };
      const keyError = { message: 'Invalid API key ID format', code: 'bad_request', details: null };
      const cases: [Method, string, Body | undefined, Body][] = [
        ['get', '/api/service-accounts/not-a-uuid', undefined, accountError],
        ['patch', '/api/service-accounts/123', { name: 'x' }, accountError],
        ['delete', '/api/service-accounts/123', undefined, accountError],
        ['get', '/api/service-accounts/123/api-keys', undefined, accountError],
        ['post', '/api/service-accounts/123/api-keys', { name: 'x' }, accountError],
        ['patch', `/api/service-accounts/${account.id}/api-keys/nope`, { name: 'x' }, keyError],
        ['delete', `/api/service-accounts/${account.id}/api-keys/nope`, undefined, keyError],
      ];
      for (const [method, url, body, error] of cases) {
        const res = await send(method, url, body).set(org.auth()).expect(400);
        expect(res.body.error).toEqual(error);
      }
    });

    it('unknown ids: 404', async () => {
      const org = await newOrg();
      const account = await createAccount(org);
      const other = await createAccount(org, { name: 'other' });
      const otherKey = await createKey(org, other.id);
      const accountMissing = { message: 'Service account not found', code: 'not_found', details: null };
      const keyMissing = { message: 'API key not found', code: 'not_found', details: null };
      const unknown = randomUUID();
      const cases: [Method, string, Body | undefined, Body][] = [
        ['get', `/api/service-accounts/${unknown}`, undefined, accountMissing],
        ['patch', `/api/service-accounts/${unknown}`, { name: 'x' }, accountMissing],
        ['delete', `/api/service-accounts/${unknown}`, undefined, accountMissing],
        ['get', `/api/service-accounts/${unknown}/api-keys`, undefined, accountMissing],
        ['post', `/api/service-accounts/${unknown}/api-keys`, { name: 'x' }, accountMissing],
        ['patch', `/api/service-accounts/${unknown}/api-keys/${otherKey.id}`, { name: 'x' }, accountMissing],
        ['patch', `/api/service-accounts/${account.id}/api-keys/${unknown}`, { name: 'x' }, keyMissing],
        ['delete', `/api/service-accounts/${account.id}/api-keys/${unknown}`, undefined, keyMissing],
        // A key of another account of the same organization is not found under this one.
        ['patch', `/api/service-accounts/${account.id}/api-keys/${otherKey.id}`, { name: 'x' }, keyMissing],
        ['delete', `/api/service-accounts/${account.id}/api-keys/${otherKey.id}`, undefined, keyMissing],
      ];
      for (const [method, url, body, error] of cases) {
        const res = await send(method, url, body).set(org.auth()).expect(404);
        expect(res.body.error).toEqual(error);
      }
      await http().get('/api/service-accounts').set(apiKey(otherKey.token)).expect(403); // untouched, integration role
    });
  });

  describe('422', () => {
    it.each([
      ['a missing name', {}, ['body', 'name'], 'missing'],
      ['a null name', { name: null }, ['body', 'name'], 'is_string'],
      ['a name that is not a string', { name: 42 }, ['body', 'name'], 'is_string'],
      ['a name over 255 characters', { name: 'x'.repeat(256) }, ['body', 'name'], 'max_length'],
      ['a description that is not a string', { name: 'x', description: 7 }, ['body', 'description'], 'is_string'],
      ['a description over 1,000 characters', { name: 'x', description: 'd'.repeat(1001) }, ['body', 'description'], 'max_length'],
      ['an unknown role', { name: 'x', role: 'superuser' }, ['body', 'role'], 'is_in'],
    ])('creating an account with %s', async (_case, body, loc, type) => {
      const org = await newOrg();
      const res = await http().post('/api/service-accounts').set(org.auth()).send(body).expect(422);
      expect(res.body.error).toMatchObject({ message: 'Request validation failed', code: 'validation_error' });
      expect(res.body.detail).toContainEqual(expect.objectContaining({ loc, type }));
      const list = await http().get('/api/service-accounts').set(org.auth()).expect(200);
      expect(list.body).toEqual([]);
    });

    it('updating an account with an unknown role, a long name or a long description', async () => {
      const org = await newOrg();
      const account = await createAccount(org, { description: 'd'.repeat(1000) });
      for (const [body, field] of [
        [{ role: 'root' }, 'role'],
        [{ name: 'x'.repeat(256) }, 'name'],
        [{ description: 'd'.repeat(1001) }, 'description'],
      ] as const) {
        const res = await http().patch(`/api/service-accounts/${account.id}`).set(org.auth()).send(body).expect(422);
        expect(res.body.detail[0].loc).toEqual(['body', field]);
      }
      const after = await http().get(`/api/service-accounts/${account.id}`).set(org.auth()).expect(200);
      expect(after.body).toEqual(account);
    });

    it('creating or updating a key without a valid name or with a long description', async () => {
      const org = await newOrg();
      const account = await createAccount(org);
      const missing = await http().post(`/api/service-accounts/${account.id}/api-keys`).set(org.auth()).send({ description: 'd' }).expect(422);
      expect(missing.body.detail).toContainEqual(expect.objectContaining({ loc: ['body', 'name'], type: 'missing' }));
      const key = await createKey(org, account.id);
      const long = await http()
        .patch(`/api/service-accounts/${account.id}/api-keys/${key.id}`)
        .set(org.auth())
        .send({ name: 'x'.repeat(256) })
        .expect(422);
      expect(long.body.detail[0].loc).toEqual(['body', 'name']);
      const described = await http()
        .post(`/api/service-accounts/${account.id}/api-keys`)
        .set(org.auth())
        .send({ name: 'described', description: 'd'.repeat(1001) })
        .expect(422);
      expect(described.body.detail).toContainEqual(expect.objectContaining({ loc: ['body', 'description'], type: 'max_length' }));
      const redescribed = await http()
        .patch(`/api/service-accounts/${account.id}/api-keys/${key.id}`)
        .set(org.auth())
        .send({ description: 'd'.repeat(1001) })
        .expect(422);
      expect(redescribed.body.detail[0].loc).toEqual(['body', 'description']);
      const keys = await http().get(`/api/service-accounts/${account.id}/api-keys`).set(org.auth()).expect(200);
      expect(keys.body.map((k: Body) => k.name)).toEqual(['key']);
    });
  });

  describe('local credentials', () => {
    // The CLI as `npm run cli` runs it, on the database and JWT_SECRET of this run (set by the global setup).
    const run = promisify(execFile);
    const cli = async (...args: string[]) =>
      (await run(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli.ts', ...args], { cwd: `${__dirname}/../..` })).stdout.trim();

    it('create-api-key: an account and key in the organization, the token printed once', async () => {
      const org = await newOrg();
      const token = await cli('create-api-key', '--org', org.id, '--role', 'org_admin', '--name', 'ops');
      expect(token).toMatch(TOKEN);

      const list = await http().get('/api/service-accounts').set(apiKey(token)).expect(200);
      expect(list.body).toEqual([accountShape({ organization_id: org.id, name: 'ops', role: 'org_admin', modified_by: 'cli' })]);
      const keys = await http().get(`/api/service-accounts/${list.body[0].id}/api-keys`).set(org.auth()).expect(200);
      expect(keys.body).toEqual([keyShape({ organization_id: org.id, service_account_id: list.body[0].id, name: 'ops', modified_by: 'cli' })]);
      expect(keys.body[0].token_prefix).toBe(token.slice(0, 12));
    });

    it('create-api-key defaults to the integration role; mint-jwt signs a bearer token with the given claims', async () => {
      const org = await newOrg();
      const [key, jwt, worker] = await Promise.all([
        cli('create-api-key', '--org', org.id),
        cli('mint-jwt', '--org', org.id, '--role', 'org_admin', '--sub', 'ops-person', '--ttl', '120'),
        cli('mint-jwt', '--org', org.id, '--role', 'worker'),
      ]);
      await http().get('/api/service-accounts').set(apiKey(key)).expect(403);

      const created = await http()
        .post('/api/service-accounts')
        .set({ Authorization: `Bearer ${jwt}` })
        .send({ name: 'by jwt' })
        .expect(201);
      expect(created.body).toMatchObject({ organization_id: org.id, modified_by: 'ops-person' });
      const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
      expect(claims.exp - claims.iat).toBe(120);
      await http()
        .get('/api/service-accounts')
        .set({ Authorization: `Bearer ${worker}` })
        .expect(403);
    });

    it('refuses bad arguments with the usage and exit code 2', async () => {
      await Promise.all([
        expect(cli('mint-jwt', '--org', 'acme', '--role', 'org_admin')).rejects.toMatchObject({
          code: 2,
          stderr: expect.stringContaining('--org must be an organization UUID'),
        }),
        expect(cli('create-api-key', '--org', randomUUID(), '--role', 'root')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('Usage:') }),
        expect(cli('rotate')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('Unknown command "rotate"') }),
      ]);
    });

    it('demo organization: an org_admin key and a curl line on the first start, no token later', async () => {
      const printed: string[] = [];
      const log = jest.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
      try {
        await ensureDemoOrganization(t.app, 4321);
        const first = printed.splice(0).join('\n');
        const token = first.match(/saf_[A-Za-z0-9_-]{43}/)?.[0] as string;
        expect(token).toMatch(TOKEN);
        expect(first).toContain(DEMO_ORGANIZATION_ID);
        expect(first).toContain(`curl -H "X-API-Key: ${token}" http://localhost:4321/api/flows`);

        const list = await http().get('/api/service-accounts').set(apiKey(token)).expect(200);
        expect(list.body).toEqual([
          accountShape({
            organization_id: DEMO_ORGANIZATION_ID,
            name: 'demo-admin',
            role: 'org_admin',
            description: expect.any(String),
            modified_by: 'demo-setup',
          }),
        ]);

        await ensureDemoOrganization(t.app, 4321);
        expect(printed).toHaveLength(1);
        expect(printed[0]).not.toContain('\n');
        expect(printed[0]).not.toMatch(/saf_/);
        expect(printed[0]).toContain(`npm run cli -- create-api-key --org ${DEMO_ORGANIZATION_ID} --role org_admin`);
        const again = await http().get('/api/service-accounts').set(apiKey(token)).expect(200);
        expect(again.body).toHaveLength(1);
      } finally {
        log.mockRestore();
      }
    });
  });
});
