import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Notifier } from '../../src/database/notifier';
import { EventLog } from '../../src/event-log/event-log.service';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { eventually } from '../utils/eventually';
import { asText, jsonWorkHere } from '../utils/json-work';
import { longPollsHeld, untilHeld } from '../utils/held';
import { expectSpecResponse } from '../utils/spec';
import { SseClient } from '../utils/sse';
import { newOrg } from '../utils/tokens';

const FEED = '/api/flow-executions/events';
const BASE = '/api/flow-executions';
type Org = Awaited<ReturnType<typeof newOrg>>;
type FeedEvent = {
  id: string;
  type: string;
  occurred_at: string;
  previous_status: string | null;
  reason?: string;
  flow_execution: Record<string, unknown>;
  task_execution?: Record<string, unknown>;
};

describe('the event feed and long-polls', () => {
  let t: TestApp;
  let other: TestApp; // a second replica on the same database
  let baseUrl: string;

  beforeAll(async () => {
    [t, other] = await Promise.all([createTestApp(), createTestApp()]);
    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await Promise.all([t.close(), other.close()]);
  });

  const feed = (org: Org, query: Record<string, string | number> = {}, app = t) => app.http().get(FEED).query(query).set(org.auth());
  const events = async (org: Org, query: Record<string, string | number> = {}): Promise<FeedEvent[]> => (await feed(org, query).expect(200)).body.events;
  const patch = (org: Org, id: string, to: string, app = t) => app.http().patch(`${BASE}/${id}/status`).query({ status: to }).set(org.auth('worker'));

  describe('GET /api/flow-executions/events', () => {
    it('records creation, status changes, task executions and deletion, oldest first, each with the execution as retrieved', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      await t
        .http()
        .post('/api/task-executions')
        .set(org.auth('worker'))
        .send({ flow_execution_id: e.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'completed', credits: 3 })
        .expect(201);
      await patch(org, e.id, 'completed').expect(200);
      await t.http().delete(`${BASE}/${e.id}`).set(org.auth()).expect(204);

      const res = await feed(org).expect(200);
      const list: FeedEvent[] = res.body.events;
      expect(list.map((x) => [x.type, x.previous_status, x.flow_execution.status, x.reason])).toEqual([
        ['flow_execution.created', null, 'running', undefined],
        ['task_execution.updated', null, 'running', undefined],
        ['flow_execution.status_changed', 'running', 'completed', 'patch'],
        ['flow_execution.deleted', 'completed', 'deleted', 'delete'],
      ]);
      expect(res.body.next_cursor).toBe(list[3].id);
      for (const event of list) {
        expect(event.id).toMatch(/^\d+$/);
        expect(event.occurred_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        expect(event.flow_execution).toMatchObject({ id: e.id, flow_id: flowId, run_number: 1, organization_id: org.id });
      }
      expectSpecResponse('get', `${BASE}/{flow_execution_id}`, 200, list[2].flow_execution);
      expect(list[1].task_execution).toMatchObject({ task_name: 'receive', processing_status: 'completed', credits: 3 });
      expect(list[0]).not.toHaveProperty('task_execution');
      expect(BigInt(list[0].id) < BigInt(list[1].id) && BigInt(list[1].id) < BigInt(list[2].id)).toBe(true);
    });

    it('names why each status changed: an admission from the queue is the `admit` reason', async () => {
      const org = await newOrg();
      await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 1 }).expect(200);
      const flowId = await createFlow(t, org.auth);
      const first = await createExecution(t, org.auth, flowId);
      const second = await createExecution(t, org.auth, flowId);
      expect(second.status).toBe('queued');
      await t.http().post(`${BASE}/${first.id}/cancel`).set(org.auth()).expect(204);
      await patch(org, first.id, 'cancelled').expect(200);

      const changes = (await events(org)).filter((x) => x.type === 'flow_execution.status_changed');
      expect(changes.map((x) => [x.flow_execution.id, x.previous_status, x.flow_execution.status, x.reason])).toEqual([
        [first.id, 'running', 'cancel_requested', 'cancel'],
        [first.id, 'cancel_requested', 'cancelled', 'patch'],
        [second.id, 'queued', 'running', 'admit'],
      ]);
    });

    it('pages by cursor: after, limit and next_cursor, which stays put on an empty page', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      for (let i = 0; i < 5; i++) await createExecution(t, org.auth, flowId);
      const all = await events(org);
      expect(all).toHaveLength(5);

      const first = await feed(org, { limit: 2 }).expect(200);
      expect(first.body.events.map((x: FeedEvent) => x.id)).toEqual(all.slice(0, 2).map((x) => x.id));
      const second = await feed(org, { limit: 2, after: first.body.next_cursor }).expect(200);
      expect(second.body.events.map((x: FeedEvent) => x.id)).toEqual(all.slice(2, 4).map((x) => x.id));
      const end = await feed(org, { after: all[4].id }).expect(200);
      expect(end.body).toEqual({ events: [], next_cursor: all[4].id });
      expect((await feed(await newOrg()).expect(200)).body).toEqual({ events: [], next_cursor: '0' });
    });

    it('a page is written by PostgreSQL and spliced: no event of it parsed nor walked on the event loop', async () => {
      const org = await newOrg();
      const withRuns = async (n: number) => {
        const flowId = await createFlow(t, org.auth);
        for (let i = 0; i < n; i += 10) {
          await Promise.all(
            Array.from({ length: Math.min(10, n - i) }, (_, j) => createExecution(t, org.auth, flowId, { file_key: `${i + j}.pdf`, note: 'ü\u2028' })),
          );
        }
        return flowId;
      };
      const [few, many] = [await withRuns(10), await withRuns(100)];
      const page = (flowId: string) => jsonWorkHere(4096, () => feed(org, { flow_id: flowId, limit: 1000 }).buffer(true).parse(asText));
      const small = await page(few);
      const large = await page(many);
      for (const [work, n] of [
        [small, 10],
        [large, 100],
      ] as const) {
        expect(work.result.status).toBe(200);
        const body = JSON.parse(work.result.body as string) as { events: FeedEvent[] };
        expect(body.events.map((e) => e.type)).toEqual(Array(n).fill('flow_execution.created'));
        expect(body.events.map((e) => (e.flow_execution.input as { note: string }).note)).toEqual(Array(n).fill('ü\u2028'));
      }
      // Parsed here, each event's payload would be a jsonb value parsed, then walked by the serializer: tens of calls an event.
      expect(large.columnsParsed - small.columnsParsed).toBeLessThan(10);
      expect(large.stringified - small.stringified).toBeLessThan(50);
    });

    it('narrows to one flow with flow_id', async () => {
      const org = await newOrg();
      const [a, b] = [await createFlow(t, org.auth), await createFlow(t, org.auth)];
      const ea = await createExecution(t, org.auth, a);
      await createExecution(t, org.auth, b);
      const list = await events(org, { flow_id: a.toUpperCase() });
      expect(list.map((x) => x.flow_execution.id)).toEqual([ea.id]);
    });

    it('never shows one organization the events of another', async () => {
      const [org, intruder] = [await newOrg(), await newOrg()];
      const flowId = await createFlow(t, org.auth);
      await createExecution(t, org.auth, flowId);
      expect(await events(intruder)).toEqual([]);
      const own = await events(org);
      expect(await events(intruder, { after: '0' })).toEqual([]);
      expect(await events(intruder, { after: String(BigInt(own[0].id) - 1n) })).toEqual([]);
      await feed(intruder, { flow_id: flowId }).expect(403);
    });

    it('answers 401 without credentials, 404 for an unknown or deleted flow, 400 for a malformed cursor, 422 for a bad limit', async () => {
      const org = await newOrg();
      await t.http().get(FEED).expect(401);
      await feed(org, { flow_id: randomUUID() }).expect(404);
      const flowId = await createFlow(t, org.auth);
      await t.http().delete(`/api/flows/${flowId}`).set(org.auth()).expect(204);
      await feed(org, { flow_id: flowId }).expect(404);
      for (const after of ['abc', '-1', '1.5', '9'.repeat(19)]) {
        const res = await feed(org, { after }).expect(400);
        expectEnvelope(res, 400, 'bad_request');
        expect(res.body.error.message).toContain('cursor');
      }
      for (const limit of [0, 1001, 'x']) {
        const res = await feed(org, { limit }).expect(422);
        expectEnvelope(res, 422, 'validation_error');
      }
      await feed(org, { flow_id: 'not-a-uuid' }).expect(422);
    });

    it('lets every role read the feed', async () => {
      const org = await newOrg();
      for (const role of Object.keys(org.tokens) as (keyof Org['tokens'])[]) {
        await t
          .http()
          .get(FEED)
          .set({ Authorization: `Bearer ${org.tokens[role]}` })
          .expect(200);
      }
    });

    it('answers 410 cursor_expired for a cursor older than the retained log, and serves the rest', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      for (let i = 0; i < 3; i++) await createExecution(t, org.auth, flowId);
      const [old, kept, newest] = await events(org);
      await t.dataSource.query(`UPDATE flow_events SET occurred_at = now() - interval '400 hours' WHERE id IN ($1, $2)`, [old.id, kept.id]);
      expect(await t.app.get(EventLog).purgeExpired()).toBeGreaterThanOrEqual(2);

      const res = await feed(org, { after: old.id }).expect(410);
      expect(res.body.error).toMatchObject({ code: 'cursor_expired' });
      expect(res.body.request_id).toBeTruthy();
      // A cursor that saw the newest removed event missed nothing.
      expect((await events(org, { after: kept.id })).map((x) => x.id)).toEqual([newest.id]);
      expect((await events(org)).map((x) => x.id)).toEqual([newest.id]);
    });

    it('holds an empty page with Prefer: wait until an event commits on another replica', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const before = await longPollsHeld(t);
      const held = feed(org, { after: '0' }).set('Prefer', 'wait=20');
      const pending = held.then((r) => r);
      await untilHeld(() => longPollsHeld(t), before);
      const e = await createExecution(other, org.auth, flowId);
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.headers['preference-applied']).toBe('wait=20');
      expect(res.body.events.map((x: FeedEvent) => [x.type, x.flow_execution.id])).toEqual([['flow_execution.created', e.id]]);
    });

    it('answers an empty page when the wait passes', async () => {
      const org = await newOrg();
      const started = Date.now();
      const res = await feed(org, { after: '0' }).set('Prefer', 'wait=1').expect(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(res.body).toEqual({ events: [], next_cursor: '0' });
      expect(res.headers['preference-applied']).toBe('wait=1');
    });
  });

  describe('Server-Sent Events', () => {
    it('streams the backlog, then new events as they commit, and resumes after a disconnect with Last-Event-ID', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const first = await createExecution(t, org.auth, flowId);

      const stream = new SseClient(baseUrl, FEED, org.auth());
      await stream.opened;
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
      const [backlog] = await stream.events(1);
      expect(backlog.event).toBe('flow_execution.created');
      expect(JSON.parse(backlog.data!)).toMatchObject({ id: backlog.id, type: 'flow_execution.created', flow_execution: { id: first.id } });

      await patch(org, first.id, 'completed', other).expect(200);
      const live = (await stream.events(2))[1];
      expect(live.event).toBe('flow_execution.status_changed');
      stream.close();

      // Written while nobody listened; a reconnect with the last id seen gets exactly those.
      const second = await createExecution(other, org.auth, flowId);
      await patch(org, second.id, 'failed', other).expect(200);
      const resumed = new SseClient(baseUrl, FEED, { ...org.auth(), 'Last-Event-ID': live.id! });
      const got = await resumed.events(2);
      expect(got.map((m) => [m.event, JSON.parse(m.data!).flow_execution.id])).toEqual([
        ['flow_execution.created', second.id],
        ['flow_execution.status_changed', second.id],
      ]);
      await new Promise((r) => setTimeout(r, 200));
      expect(resumed.dataMessages()).toHaveLength(2);
      resumed.close();

      const viaQuery = new SseClient(baseUrl, `${FEED}?after=${live.id}&flow_id=${flowId}`, org.auth());
      expect((await viaQuery.events(2)).map((m) => m.id)).toEqual(got.map((m) => m.id));
      viaQuery.close();
    });

    it("refuses before streaming: 400 for a malformed Last-Event-ID, 403 for another organization's flow", async () => {
      const [org, intruder] = [await newOrg(), await newOrg()];
      const flowId = await createFlow(t, org.auth);
      const bad = new SseClient(baseUrl, FEED, { ...org.auth(), 'Last-Event-ID': 'nope' });
      await bad.ended;
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.body).error.code).toBe('bad_request');
      const foreign = new SseClient(baseUrl, `${FEED}?flow_id=${flowId}`, intruder.auth());
      await foreign.opened;
      expect(foreign.status).toBe(403);
      bad.close();
      foreign.close();
    });

    it('leaves nothing behind when clients go away', async () => {
      const org = await newOrg();
      const notifier = () => t.app.get(Notifier);
      const before = notifier().subscriberCount;
      const streams = Array.from({ length: 5 }, () => new SseClient(baseUrl, FEED, org.auth()));
      await Promise.all(streams.map((s) => s.opened));
      await eventually(() => notifier().subscriberCount === before + 5);
      for (const s of streams) s.close();
      await eventually(() => notifier().subscriberCount === before);

      // The same for held long-polls of the retrieve endpoint and of the JSON feed.
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const etag = (await t.http().get(`${BASE}/${e.id}`).set(org.auth()).expect(200)).headers.etag;
      const held = [
        new SseClient(baseUrl, `${BASE}/${e.id}`, { ...org.auth(), Accept: 'application/json', 'If-None-Match': etag, Prefer: 'wait=60' }),
        new SseClient(baseUrl, `${FEED}?after=999999999`, { ...org.auth(), Accept: 'application/json', Prefer: 'wait=60' }),
      ];
      await eventually(() => notifier().subscriberCount === before + 2);
      for (const h of held) h.close();
      await eventually(() => notifier().subscriberCount === before);
    });
  });

  it('answers held long-polls and ends streams when the process shuts down, so it stops at once', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await createExecution(t, org.auth, flowId);
    const etag = (await t.http().get(`${BASE}/${e.id}`).set(org.auth()).expect(200)).headers.etag;
    const leaving = await createTestApp();
    await leaving.app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(leaving.app.getHttpServer().address() as AddressInfo).port}`;
    const stream = new SseClient(url, FEED, org.auth());
    await stream.opened;
    const held = fetch(`${url}${BASE}/${e.id}`, { headers: { ...org.auth(), 'If-None-Match': etag, Prefer: 'wait=60' } });
    await untilHeld(() => longPollsHeld(leaving), 0);
    await leaving.close(); // with the poll still held for 60 s, this would outlast the test's timeout
    expect((await held).status).toBe(304);
    await stream.ended;
  });

  describe('long-poll on GET /api/flow-executions/{id}', () => {
    const get = (org: Org, id: string, etag: string, wait: number, app = t) =>
      app.http().get(`${BASE}/${id}`).set(org.auth()).set('If-None-Match', etag).set('Prefer', `wait=${wait}`);

    it('holds a current ETag until a change on another replica, then answers 200 with the new body', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const etag = (await t.http().get(`${BASE}/${e.id}`).set(org.auth()).expect(200)).headers.etag;

      const before = await longPollsHeld(t);
      const pending = get(org, e.id, etag, 30).then((r) => r);
      await untilHeld(() => longPollsHeld(t), before);
      await patch(org, e.id, 'completed', other).expect(200);
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('completed');
      expect(res.headers.etag).not.toBe(etag);
      expect(res.headers['preference-applied']).toBe('wait=30');
    });

    it('answers 304 when the wait passes unchanged, and at once for a stale or absent ETag', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const etag = (await t.http().get(`${BASE}/${e.id}`).set(org.auth()).expect(200)).headers.etag;

      const started = Date.now();
      const res = await get(org, e.id, etag, 1).expect(304);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(res.headers['preference-applied']).toBe('wait=1');

      await patch(org, e.id, 'completed').expect(200);
      const fresh = await get(org, e.id, etag, 60).expect(200);
      expect(fresh.headers).not.toHaveProperty('preference-applied');
      const plain = await t.http().get(`${BASE}/${e.id}`).set(org.auth()).set('Prefer', 'wait=60').expect(200);
      expect(plain.headers).not.toHaveProperty('preference-applied');
    });

    it('wakes with 404 when the execution is deleted while held', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const etag = (await t.http().get(`${BASE}/${e.id}`).set(org.auth()).expect(200)).headers.etag;
      const before = await longPollsHeld(t);
      const pending = get(org, e.id, etag, 30).then((r) => r);
      await untilHeld(() => longPollsHeld(t), before);
      await other.http().delete(`${BASE}/${e.id}`).set(org.auth()).expect(204);
      expect((await pending).status).toBe(404);
    });

    it('decides 403, 404 and 400 before any waiting', async () => {
      const [org, intruder] = [await newOrg(), await newOrg()];
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const etag = (await t.http().get(`${BASE}/${e.id}`).set(org.auth()).expect(200)).headers.etag;
      const started = Date.now();
      await get(intruder, e.id, etag, 30).expect(403);
      await get(org, randomUUID(), etag, 30).expect(404);
      await get(org, 'nope', etag, 30).expect(400);
      await t.http().get(`${BASE}/${e.id}`).set('If-None-Match', etag).set('Prefer', 'wait=30').expect(401);
      expect(Date.now() - started).toBeLessThan(20_000);
    });

    it('clamps the wait to 60 s and wakes waiters on a task change that moves the ETag (credits)', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const url = `${BASE}/${e.id}?include_credits=true`;
      const etag = (await t.http().get(url).set(org.auth()).expect(200)).headers.etag;
      const before = await longPollsHeld(t);
      const pending = t
        .http()
        .get(url)
        .set(org.auth())
        .set('If-None-Match', etag)
        .set('Prefer', 'wait=600')
        .then((r) => r);
      await untilHeld(() => longPollsHeld(t), before);
      await other
        .http()
        .post('/api/task-executions')
        .set(org.auth('worker'))
        .send({ flow_execution_id: e.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'completed', credits: 7 })
        .expect(201);
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.body.total_credits).toBe(7);
      expect(res.headers['preference-applied']).toBe('wait=60');
    });

    it('re-checks after the listener loses its connection, and still wakes on changes after it reconnects', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const etag = (await t.http().get(`${BASE}/${e.id}`).set(org.auth()).expect(200)).headers.etag;
      const before = await longPollsHeld(t);
      const pending = get(org, e.id, etag, 30).then((r) => r);
      await untilHeld(() => longPollsHeld(t), before);
      const killed: unknown[] = await t.dataSource.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`,
      );
      expect(killed.length).toBeGreaterThanOrEqual(2); // one listener per replica
      const notifier = t.app.get(Notifier);
      await eventually(() => notifier.listening);
      await patch(org, e.id, 'completed', other).expect(200);
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('completed');
    });
  });
});
