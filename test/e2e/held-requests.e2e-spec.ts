import { randomBytes } from 'node:crypto';
import { request as httpRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeldRequests } from '../../src/common/held/held-requests';
import { MetricsService } from '../../src/common/metrics/metrics.service';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { SseClient } from '../utils/sse';
import { newOrg, signToken } from '../utils/tokens';
import { eventually } from '../utils/eventually';

const FEED = '/api/flow-executions/events';
const BASE = '/api/flow-executions';
type Org = Awaited<ReturnType<typeof newOrg>>;

async function listening(t: TestApp): Promise<string> {
  await t.app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
}

/** A metric's value in the process (summed over its labels' values when `labels` is partial). */
async function metric(t: TestApp, name: keyof MetricsService, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await (
    t.app.get(MetricsService)[name] as unknown as { get(): Promise<{ values: { value: number; labels: Record<string, string> }[] }> }
  ).get();
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
}

describe('held requests', () => {
  describe('caps per organization and per credential', () => {
    let t: TestApp;
    let url: string;
    beforeAll(async () => {
      t = await createTestApp({ HELD_REQUESTS_PER_ORG: '3', HELD_REQUESTS_PER_CREDENTIAL: '2' });
      url = await listening(t);
    });
    afterAll(() => t.close());

    const held = (org: Org) => t.app.get(HeldRequests).count(org.id);
    const stream = async (headers: Record<string, string>) => {
      const s = new SseClient(url, FEED, headers);
      await s.opened;
      return s;
    };

    it('answers 429 rate_limited with Retry-After past the credential cap, before holding, and frees on close', async () => {
      const org = await newOrg();
      const [a, b] = [await stream(org.auth()), await stream(org.auth())];
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(held(org)).toBe(2);

      const refused = await t.http().get(FEED).set(org.auth()).set('Accept', 'text/event-stream');
      const body = expectEnvelope(refused, 429, 'rate_limited');
      expect(refused.headers['retry-after']).toBe('5');
      expect(body.error.details).toEqual({ policy: 'held_requests_credential', retry_after: 5 });
      // A long-poll of the same caller counts against the same cap; one that answers at once holds nothing.
      const poll = await t.http().get(FEED).query({ after: '999999999' }).set(org.auth()).set('Prefer', 'wait=30');
      expect(poll.status).toBe(429);
      await t.http().get(FEED).set(org.auth()).expect(200);
      // Another caller of the organization is within its own cap.
      const c = await stream(org.auth('worker'));
      expect(c.status).toBe(200);
      expect(await metric(t, 'heldRejections', { scope: 'credential' })).toBeGreaterThanOrEqual(2);

      a.close();
      await eventually(
        async () => held(org),
        (n) => n === 2,
      );
      const again = await stream(org.auth());
      expect(again.status).toBe(200);
      for (const s of [b, c, again]) s.close();
      await eventually(
        async () => held(org),
        (n) => n === 0,
      );
    });

    it('answers 429 past the organization cap, whoever asks, counting long-polls; another organization is not affected', async () => {
      const [org, neighbour] = [await newOrg(), await newOrg()];
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const etag = (await t.http().get(`${BASE}/${e.id}`).set(org.auth()).expect(200)).headers.etag;
      const streams = [await stream(org.auth('app_user')), await stream(org.auth('worker'))];
      const poll = t
        .http()
        .get(`${BASE}/${e.id}`)
        .set(org.auth())
        .set('If-None-Match', etag)
        .set('Prefer', 'wait=30')
        .then((r) => r);
      await eventually(
        async () => held(org),
        (n) => n === 3,
      );

      const refused = await t.http().get(FEED).set(org.auth('backoffice')).set('Accept', 'text/event-stream');
      expect(expectEnvelope(refused, 429, 'rate_limited').error.details).toEqual({ policy: 'held_requests_organization', retry_after: 5 });
      await t.http().get(`${BASE}/${e.id}`).set(org.auth('integration')).set('If-None-Match', etag).set('Prefer', 'wait=30').expect(429);
      const byRun = `/api/flows/${flowId}/executions/1`;
      const runEtag = (await t.http().get(byRun).set(org.auth('integration')).expect(200)).headers.etag;
      await t.http().get(byRun).set(org.auth('integration')).set('If-None-Match', runEtag).set('Prefer', 'wait=30').expect(429);
      const other = await stream(neighbour.auth());
      expect(other.status).toBe(200);
      other.close();

      // The long-poll frees its place when it is answered.
      await t.http().patch(`${BASE}/${e.id}/status`).query({ status: 'completed' }).set(org.auth('worker')).expect(200);
      expect((await poll).status).toBe(200);
      await eventually(
        async () => held(org),
        (n) => n === 2,
      );
      const next = await stream(org.auth('backoffice'));
      expect(next.status).toBe(200);
      for (const s of [...streams, next]) s.close();
      await eventually(
        async () => held(org),
        (n) => n === 0,
      );
    });
  });

  describe('reads after a wake', () => {
    let t: TestApp;
    let url: string;
    beforeAll(async () => {
      t = await createTestApp();
      url = await listening(t);
    });
    afterAll(() => t.close());

    it('makes one read per feed scope per wake, shared by every stream and long-poll there', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const first = await createExecution(t, org.auth, flowId);
      const streams = Array.from({ length: 12 }, () => new SseClient(url, FEED, org.auth()));
      // Each has sent its backlog: it waits for the next change.
      await Promise.all(streams.map((s) => s.events(1)));
      const polls = Array.from({ length: 4 }, () =>
        t
          .http()
          .get(FEED)
          .query({ after: streams[0].dataMessages()[0].id! })
          .set(org.auth())
          .set('Prefer', 'wait=30')
          .then((r) => r),
      );
      await eventually(
        async () => t.app.get(HeldRequests).count(org.id),
        (n) => n === 16,
      );
      const before = await metric(t, 'heldReads', { kind: 'feed' });

      const second = await createExecution(t, org.auth, flowId);
      await Promise.all(streams.map((s) => s.events(2)));
      for (const res of await Promise.all(polls))
        expect(res.body.events.map((x: { flow_execution: { id: string } }) => x.flow_execution.id)).toEqual([second.id]);
      expect(await metric(t, 'heldReads', { kind: 'feed' })).toBe(before + 1);
      expect(streams.every((s) => JSON.parse(s.dataMessages()[0].data!).flow_execution.id === first.id)).toBe(true);
      for (const s of streams) s.close();
    });

    it('makes one read per execution per wake for its long-polls', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const etag = (await t.http().get(`${BASE}/${e.id}`).set(org.auth()).expect(200)).headers.etag;
      const polls = Array.from({ length: 10 }, () =>
        t
          .http()
          .get(`${BASE}/${e.id}`)
          .set(org.auth())
          .set('If-None-Match', etag)
          .set('Prefer', 'wait=30')
          .then((r) => r),
      );
      await eventually(
        async () => t.app.get(HeldRequests).count(org.id),
        (n) => n === 10,
      );
      const before = await metric(t, 'heldReads', { kind: 'execution' });
      await t.http().patch(`${BASE}/${e.id}/status`).query({ status: 'completed' }).set(org.auth('worker')).expect(200);
      for (const res of await Promise.all(polls)) expect([res.status, res.body.status]).toEqual([200, 'completed']);
      expect(await metric(t, 'heldReads', { kind: 'execution' })).toBe(before + 1);
    });
  });

  describe('back-pressure and page budgets', () => {
    let t: TestApp;
    let url: string;
    const responses: ServerResponse[] = [];
    beforeAll(async () => {
      t = await createTestApp();
      t.app.getHttpServer().on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (req.headers.accept === 'text/event-stream') responses.push(res);
      });
      url = await listening(t);
    });
    afterAll(() => t.close());

    const EVENTS = 30;
    const INPUT_BYTES = 300_000;
    let org: Org;
    beforeAll(async () => {
      org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      // Random text: its stored size is its size (the budget counts stored sizes).
      for (let i = 0; i < EVENTS; i++) await createExecution(t, org.auth, flowId, { blob: randomBytes(INPUT_BYTES * 0.75).toString('base64') });
    });

    it('a JSON page stops at its byte budget, and next_cursor continues', async () => {
      const first = (await t.http().get(FEED).query({ limit: 1000 }).set(org.auth()).expect(200)).body;
      expect(first.events.length).toBeGreaterThan(0);
      expect(first.events.length).toBeLessThan(EVENTS);
      expect(JSON.stringify(first).length).toBeLessThan(4 * 1024 * 1024 + 2 * INPUT_BYTES);
      const ids: string[] = first.events.map((e: { id: string }) => e.id);
      let cursor = first.next_cursor;
      while (ids.length < EVENTS) {
        const page = (await t.http().get(FEED).query({ limit: 1000, after: cursor }).set(org.auth()).expect(200)).body;
        expect(page.events.length).toBeGreaterThan(0);
        ids.push(...page.events.map((e: { id: string }) => e.id));
        cursor = page.next_cursor;
      }
      expect(new Set(ids).size).toBe(EVENTS);
      expect(ids.map(BigInt)).toEqual([...ids.map(BigInt)].sort((a, b) => (a < b ? -1 : 1)));
    });

    it('an SSE stream whose client stops reading buffers at most about one event, and goes on when it reads again', async () => {
      let text = '';
      const client = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(`${url}${FEED}?limit=1000`, { headers: { Accept: 'text/event-stream', ...org.auth() } }, resolve);
        req.on('error', reject);
        req.end();
      });
      expect(client.statusCode).toBe(200);
      client.pause();
      client.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      const res = responses[responses.length - 1];
      let most = 0;
      await eventually(
        async () => {
          most = Math.max(most, res.writableLength);
          return metric(t, 'sseBlocked');
        },
        (n) => n === 1,
      );
      most = Math.max(most, res.writableLength);
      // Node's buffer holds the event the client did not take, no more; the rest waits in the database.
      expect(most).toBeLessThan(2 * INPUT_BYTES);
      client.resume();
      await eventually(
        async () => (text.match(/^id: /gm) ?? []).length,
        (n) => n === EVENTS,
      );
      client.destroy();
    });
  });

  describe('credentials of streams', () => {
    let t: TestApp;
    let other: TestApp;
    let url: string;
    beforeAll(async () => {
      [t, other] = await Promise.all([createTestApp(), createTestApp()]);
      url = await listening(t);
    });
    afterAll(() => Promise.all([t.close(), other.close()]));

    async function issueKey(org: Org) {
      const account = (await t.http().post('/api/service-accounts').set(org.auth()).send({ name: 'reader', role: 'integration' }).expect(201)).body;
      const key = (await t.http().post(`/api/service-accounts/${account.id}/api-keys`).set(org.auth()).send({ name: 'k' }).expect(201)).body;
      return { accountId: account.id as string, keyId: key.id as string, headers: { 'X-API-Key': key.token as string } };
    }
    const endsWithin = (s: SseClient, ms: number) =>
      Promise.race([s.ended.then(() => 'ended'), new Promise((resolve) => setTimeout(resolve, ms, 'still streaming'))]);

    it('ends a stream within 2 s of its API key being deleted on another replica; other keys stream on', async () => {
      const org = await newOrg();
      const [revoked, kept] = [await issueKey(org), await issueKey(org)];
      const streams = [new SseClient(url, FEED, revoked.headers), new SseClient(url, FEED, kept.headers)];
      await Promise.all(streams.map((s) => s.opened));
      expect(streams.map((s) => s.status)).toEqual([200, 200]);
      await other.http().delete(`/api/service-accounts/${revoked.accountId}/api-keys/${revoked.keyId}`).set(org.auth()).expect(204);
      expect(await endsWithin(streams[0], 2_000)).toBe('ended');
      const flowId = await createFlow(t, org.auth);
      await createExecution(t, org.auth, flowId);
      await streams[1].events(1);
      streams[1].close();
    });

    it('ends a stream within 2 s of its service account being disabled', async () => {
      const org = await newOrg();
      const key = await issueKey(org);
      const stream = new SseClient(url, FEED, key.headers);
      await stream.opened;
      await other.dataSource.query(`UPDATE service_accounts SET status = 'inactive' WHERE id = $1`, [key.accountId]);
      expect(await endsWithin(stream, 2_000)).toBe('ended');
    });

    it("ends a bearer stream at its token's exp", async () => {
      const org = await newOrg();
      const token = await signToken(org.id, 'app_user', { expiresIn: 2 });
      const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp as number;
      const stream = new SseClient(url, FEED, { Authorization: `Bearer ${token}` });
      await stream.opened;
      expect(stream.status).toBe(200);
      await stream.ended;
      expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    });
  });
});
