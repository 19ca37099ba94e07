import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { newOrg } from '../utils/tokens';

type Org = Awaited<ReturnType<typeof newOrg>>;

// The bound the contract promises for a revocation to reach every process.
const REVOCATION_BOUND_MS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two replicas on one database: a key verified (and cached) by one is revoked through the other. */
describe('API keys across replicas: revocation takes effect within one second', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    [a, b] = await Promise.all([createTestApp(), createTestApp()]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  async function issueKey(org: Org, role = 'integration') {
    const account = (await a.http().post('/api/service-accounts').set(org.auth()).send({ name: 'worker', role }).expect(201)).body;
    const key = (await a.http().post(`/api/service-accounts/${account.id}/api-keys`).set(org.auth()).send({ name: 'k' }).expect(201)).body;
    return { accountId: account.id as string, keyId: key.id as string, headers: { 'X-API-Key': key.token as string } };
  }

  /** Verified by replica b several times, so that it is in b's cache when the revocation comes. */
  async function primeOnB(headers: Record<string, string>, path = '/api/flows') {
    for (let i = 0; i < 3; i++) await b.http().get(path).set(headers).expect(200);
  }

  it('deleting the key', async () => {
    const org = await newOrg();
    const key = await issueKey(org);
    await primeOnB(key.headers);
    await a.http().delete(`/api/service-accounts/${key.accountId}/api-keys/${key.keyId}`).set(org.auth()).expect(204);
    await sleep(REVOCATION_BOUND_MS);
    const res = await b.http().get('/api/flows').set(key.headers);
    expectEnvelope(res, 401, 'unauthorized');
  });

  it('deleting its service account', async () => {
    const org = await newOrg();
    const key = await issueKey(org);
    await primeOnB(key.headers);
    await a.http().delete(`/api/service-accounts/${key.accountId}`).set(org.auth()).expect(204);
    await sleep(REVOCATION_BOUND_MS);
    await b.http().get('/api/flows').set(key.headers).expect(401);
  });

  it('disabling the account, even behind the API', async () => {
    const org = await newOrg();
    const key = await issueKey(org);
    await primeOnB(key.headers);
    await a.dataSource.query(`UPDATE service_accounts SET status = 'inactive' WHERE id = $1`, [key.accountId]);
    await sleep(REVOCATION_BOUND_MS);
    await b.http().get('/api/flows').set(key.headers).expect(401);
  });

  it('changing the account’s role', async () => {
    const org = await newOrg();
    const key = await issueKey(org, 'org_admin');
    await primeOnB(key.headers, '/api/service-accounts');
    await a.http().patch(`/api/service-accounts/${key.accountId}`).set(org.auth()).send({ role: 'app_user' }).expect(200);
    await sleep(REVOCATION_BOUND_MS);
    const res = await b.http().get('/api/service-accounts').set(key.headers);
    expect(res.status).toBe(403);
    await b.http().get('/api/flows').set(key.headers).expect(200);
  });

  it('keeps working for keys nobody revoked, on both replicas', async () => {
    const org = await newOrg();
    const [kept, revoked] = [await issueKey(org), await issueKey(org)];
    await primeOnB(kept.headers);
    await primeOnB(revoked.headers);
    await a.http().delete(`/api/service-accounts/${revoked.accountId}/api-keys/${revoked.keyId}`).set(org.auth()).expect(204);
    await sleep(REVOCATION_BOUND_MS);
    await b.http().get('/api/flows').set(kept.headers).expect(200);
    await a.http().get('/api/flows').set(kept.headers).expect(200);
    await b.http().get('/api/flows').set(revoked.headers).expect(401);
    await a.http().get('/api/flows').set(revoked.headers).expect(401);
  });
});
