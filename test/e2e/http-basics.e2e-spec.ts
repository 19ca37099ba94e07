import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { newOrg, signToken } from '../utils/tokens';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

describe('HTTP basics: envelope, request id, health, docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ BODY_LIMIT: '2048' });
  });
  afterAll(() => t.close());

  it('serves liveness and readiness without credentials', async () => {
    await t.http().get('/health/live').expect(200);
    const ready = await t.http().get('/health/ready').expect(200);
    expect(ready.body.info.database.status).toBe('up');
  });

  it('answers an unknown route with 404 in the envelope and a ULID request id', async () => {
    const res = await t.http().get('/api/nope').expect(404);
    expect(res.body).toEqual({
      error: { message: 'Route GET /api/nope not found', code: 'not_found', details: null },
      request_id: res.headers['x-request-id'],
    });
    expect(res.headers['x-request-id']).toMatch(ULID);
  });

  it("echoes the caller's safe X-Request-ID and replaces an unsafe one", async () => {
    const echoed = await t.http().get('/health/live').set('X-Request-ID', 'abc.DEF_1-2').expect(200);
    expect(echoed.headers['x-request-id']).toBe('abc.DEF_1-2');
    const replaced = await t.http().get('/api/nope').set('X-Request-ID', 'bad id!').expect(404);
    expect(replaced.headers['x-request-id']).toMatch(ULID);
    expect(replaced.body.request_id).toBe(replaced.headers['x-request-id']);
    const tooLong = await t.http().get('/health/live').set('X-Request-ID', 'a'.repeat(129)).expect(200);
    expect(tooLong.headers['x-request-id']).toMatch(ULID);
  });

  it('answers malformed JSON with 400 and an oversized body with 413, both in the envelope', async () => {
    const { auth } = await newOrg();
    const malformed = await t.http().post('/api/flows').set(auth()).set('Content-Type', 'application/json').send('{"a":').expect(400);
    expect(malformed.body.error).toEqual({ message: 'Request body is not valid JSON', code: 'bad_request', details: null });
    expect(malformed.body.request_id).toBe(malformed.headers['x-request-id']);

    const big = await t
      .http()
      .post('/api/flows')
      .set(auth())
      .send({ display_name: 'x'.repeat(4096) })
      .expect(413);
    expectEnvelope(big, 413, 'payload_too_large');
    expect(big.headers['x-request-id']).toMatch(ULID);
  });

  describe('401 for every bad credential', () => {
    const orgId = '0b7f3c1e-2a4d-4c8e-9f10-aabbccddeeff';
    const cases: [string, () => Promise<Record<string, string>>][] = [
      ['no credential', async () => ({})],
      ['a malformed Authorization header', async () => ({ Authorization: 'Token abc' })],
      ['garbage bearer', async () => ({ Authorization: 'Bearer not.a.jwt' })],
      ['an expired token (beyond the 30 s leeway)', async () => ({ Authorization: `Bearer ${await signToken(orgId, 'app_user', { expiresIn: -31 })}` })],
      [
        'another signing key',
        async () => ({ Authorization: `Bearer ${await signToken(orgId, 'app_user', { secret: 'another-secret-another-secret-another-secret' })}` }),
      ],
      ['a token without org_id', async () => ({ Authorization: `Bearer ${await signToken(orgId, 'app_user', { claims: { org_id: undefined } })}` })],
      ['an org_id that is not a UUID', async () => ({ Authorization: `Bearer ${await signToken(orgId, 'app_user', { claims: { org_id: 'acme' } })}` })],
      ['an unknown role', async () => ({ Authorization: `Bearer ${await signToken(orgId, 'superuser' as never)}` })],
      ['alg none', async () => ({ Authorization: `Bearer ${unsignedToken(orgId)}` })],
      ['an unknown API key', async () => ({ 'X-API-Key': 'saf_unknown' })],
    ];
    it.each(cases)('%s', async (_name, headers) => {
      const res = await t
        .http()
        .get('/api/flows')
        .set(await headers())
        .expect(401);
      expectEnvelope(res, 401, 'unauthorized');
    });

    it('accepts a token expired by less than the leeway', async () => {
      const token = await signToken(orgId, 'app_user', { expiresIn: -10 });
      await t
        .http()
        .get('/api/flows')
        .set({ Authorization: `Bearer ${token}` })
        .expect(200);
    });
  });

  it('serves the OpenAPI document with both security schemes, and Swagger UI', async () => {
    const doc = await t.http().get('/openapi.json').expect(200);
    expect(Object.keys(doc.body.components.securitySchemes).sort()).toEqual(['APIKeyAuth', 'BearerAuth']);
    await t.http().get('/docs').redirects(1).expect(200);
  });
});

function unsignedToken(orgId: string): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'x', org_id: orgId, role: 'org_admin', exp: now + 600 })}.`;
}

describe('bodies nested too deeply', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('answers 400 in the envelope instead of overflowing the stack', async () => {
    const { auth } = await newOrg();
    const deep = '{"a":'.repeat(20000) + '1' + '}'.repeat(20000);
    const res = await t
      .http()
      .post('/api/flow-executions')
      .set(auth())
      .set('Content-Type', 'application/json')
      .send(`{"flow_id":"0b7f3c1e-2a4d-4c8e-9f10-aabbccddeeff","input":${deep}}`)
      .expect(400);
    expect(res.body.error).toMatchObject({ code: 'bad_request', message: 'Request body is nested too deeply (more than 64 levels)' });
  });
});
