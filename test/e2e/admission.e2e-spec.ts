import { Client } from 'pg';
import { definitionOf, LINEAR_TASKS } from '../factories/flows';
import { startServerProcess, ServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';
import { eventually } from '../utils/eventually';

type Org = Awaited<ReturnType<typeof newOrg>>;

/** Polls until the database shows a backend of this database waiting on a lock (bounded). */
async function waitForLockWaiter(db: Client): Promise<void> {
  await eventually(
    async (): Promise<number> =>
      (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n,
    (n) => n > 0,
  );
}

describe('fair admission (docs/api.md#fair-admission)', () => {
  let server: ServerProcess;
  let db: Client;
  // One cost unit at a time, two waiting per organization, three in all: tiny, so that a test can fill them.
  beforeAll(async () => {
    server = await startServerProcess({ ADMISSION_CONCURRENCY: '1', ADMISSION_ORG_QUEUE: '3', ADMISSION_QUEUE: '5', ADMISSION_QUEUE_TIMEOUT_MS: '60000' });
    await waitUntilReady(server);
    db = new Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
  });
  afterAll(async () => {
    await db?.query('ROLLBACK').catch(() => undefined);
    await db?.end();
    await server?.stop();
  });

  const call = (org: Org, path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, { ...init, headers: { ...org.auth(), 'Content-Type': 'application/json', ...(init.headers as object) } }).then(
      async (res) => ({
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        body: (await res.json().catch(() => null)) as { error?: { code: string; details: Record<string, unknown> }; request_id?: string; id?: string } | null,
      }),
    );
  const setUp = async () => {
    const org = await newOrg();
    const flow = await call(org, '/api/flows', { method: 'POST', body: JSON.stringify({ display_name: 'Admission', definition: definitionOf(LINEAR_TASKS) }) });
    const run = await call(org, '/api/flow-executions', { method: 'POST', body: JSON.stringify({ flow_id: flow.body!.id, input: { file_key: 'a.pdf' } }) });
    expect(run.status).toBe(201);
    return { org, executionId: run.body!.id as string };
  };
  const metric = async (line: string): Promise<number> => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  };

  it("serves another organization's requests between a flood's, and past a full queue answers 429 or 503 with Retry-After in the envelope", async () => {
    const a = await setUp();
    const b = await setUp();
    const c = await setUp();
    const d = await setUp();

    // A's first request holds the only slot, stuck on a row lock the test holds.
    await db.query('BEGIN');
    await db.query(`SELECT 1 FROM flow_executions WHERE id = $1 FOR UPDATE`, [a.executionId]);
    const done: string[] = [];
    const track = (name: string, p: ReturnType<typeof call>) => p.then((r) => (done.push(name), r));
    const holding = track('a-held', call(a.org, `/api/flow-executions/${a.executionId}/cancel`, { method: 'POST' }));
    await waitForLockWaiter(db);

    // A floods: three wait in its queue, the fourth is refused at once (this organization's share: 429).
    const flood = [1, 2, 3].map((i) => track(`a${i}`, call(a.org, `/api/flow-executions/${a.executionId}`)));
    await eventually(
      () => metric('admission_queue_depth'),
      (n) => n === 3,
    );
    const overOrg = await call(a.org, `/api/flow-executions/${a.executionId}`);
    expect(overOrg.status).toBe(429);
    expect(overOrg.retryAfter).toBe('1');
    expect(overOrg.body).toEqual({
      error: { code: 'rate_limited', message: expect.any(String), details: { policy: 'admission', reason: 'organization_queue_full', retry_after: 1 } },
      request_id: expect.any(String),
    });

    // B and C queue behind A's flood; the process queue (5) is then full: D is refused (overloaded: 503).
    const neighbours = [track('b', call(b.org, `/api/flow-executions/${b.executionId}`)), track('c', call(c.org, `/api/flow-executions/${c.executionId}`))];
    await eventually(
      () => metric('admission_queue_depth'),
      (n) => n === 5,
    );
    expect(await metric('admission_queued_organizations')).toBe(3);
    const overProcess = await call(d.org, `/api/flow-executions/${d.executionId}`);
    expect(overProcess.status).toBe(503);
    expect(overProcess.retryAfter).toBe('2');
    expect(overProcess.body!.error).toEqual({
      code: 'service_unavailable',
      message: expect.any(String),
      details: { policy: 'admission', reason: 'queue_full', retry_after: 2 },
    });

    await db.query('COMMIT');
    expect((await holding).status).toBe(204);
    expect((await Promise.all([...flood, ...neighbours])).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    // Served in turn by organization, not in arrival order: B and C do not wait for the whole flood.
    expect(done.indexOf('b')).toBeLessThan(done.indexOf('a3'));
    expect(done.indexOf('c')).toBeLessThan(done.indexOf('a3'));
    expect(await metric('admission_rejections_total{reason="organization_queue_full"}')).toBe(1);
    expect(await metric('admission_rejections_total{reason="queue_full"}')).toBe(1);
    expect(await metric('admission_queue_depth')).toBe(0);
    expect(await metric('admission_in_use')).toBe(0);
    expect(await metric('admission_organization_budget')).toBe(1); // ADMISSION_ORG_CONCURRENCY: half of 1, at least 1
  });

  it('a long-poll gives its slot back while it waits', async () => {
    const a = await setUp();
    const etag = (await fetch(`${server.url}/api/flow-executions/${a.executionId}`, { headers: a.org.auth() })).headers.get('etag')!;
    const controller = new AbortController();
    const poll = fetch(`${server.url}/api/flow-executions/${a.executionId}`, {
      headers: { ...a.org.auth(), 'If-None-Match': etag, Prefer: 'wait=60' },
      signal: controller.signal,
    }).catch(() => null);
    await eventually(
      () => metric('long_polls_open'),
      (n) => n === 1,
    );
    // With the only slot held by the poll, this would wait a minute.
    const read = await call(a.org, `/api/flow-executions/${a.executionId}`);
    expect(read.status).toBe(200);
    controller.abort();
    await poll;
  });

  it("the event feed's held page and its stream give their slots back while they wait", async () => {
    const a = await setUp();
    const { next_cursor } = (await (await fetch(`${server.url}/api/flow-executions/events`, { headers: a.org.auth() })).json()) as { next_cursor: string };
    const controller = new AbortController();
    const page = fetch(`${server.url}/api/flow-executions/events?after=${next_cursor}`, {
      headers: { ...a.org.auth(), Prefer: 'wait=60' },
      signal: controller.signal,
    }).catch(() => null);
    const stream = fetch(`${server.url}/api/flow-executions/events?after=${next_cursor}`, {
      headers: { ...a.org.auth(), Accept: 'text/event-stream' },
      signal: controller.signal,
    }).catch(() => null);
    await eventually(
      () => metric('held_requests_open'),
      (n) => n === 2,
    );
    // With the only slot held by either of them, this would wait a minute.
    const read = await call(a.org, `/api/flow-executions/${a.executionId}`);
    expect(read.status).toBe(200);
    controller.abort();
    await Promise.all([page, stream]);
  });
});

describe('fair admission following the event loop (docs/api.md#fair-admission)', () => {
  let server: ServerProcess;
  // Any work at all counts as a saturated loop here: the budget moves without a real flood.
  beforeAll(async () => {
    server = await startServerProcess({ ADMISSION_CONCURRENCY: '32', ADMISSION_ORG_CONCURRENCY: '16', ADMISSION_LOOP_UTILIZATION: '0.001' });
    await waitUntilReady(server);
  });
  afterAll(async () => {
    await server?.stop();
  });

  const budget = async (): Promise<number> =>
    Number(/^admission_organization_budget (\S+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? NaN);

  /** Each organization reads pages of flows, 8 at a time, until `stop()` holds; the statuses of every answer. */
  async function readUntil(orgs: Org[], stop: () => boolean): Promise<number[]> {
    const statuses: number[] = [];
    const reader = async (org: Org) => {
      while (!stop()) statuses.push((await fetch(`${server.url}/api/flows?page_size=1`, { headers: org.auth() })).status);
    };
    await Promise.all(orgs.flatMap((org) => Array.from({ length: 8 }, () => reader(org))));
    return statuses;
  }

  it("keeps one organization's budget whole, however busy the loop", async () => {
    const a = await newOrg();
    const budgets: number[] = [];
    let reads = 0;
    const watching = eventually(
      async () => budgets.push(await budget()),
      () => reads >= 600,
    );
    const statuses = await readUntil([a], () => ++reads > 600);
    await watching;
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(Math.min(...budgets)).toBe(16);
  });

  it('halves the budget while two organizations contend for a busy loop, and gives it back once they stop', async () => {
    const [a, b] = await Promise.all([newOrg(), newOrg()]);
    let low = false;
    const traffic = readUntil([a, b], () => low);
    low = (await eventually(budget, (n) => n < 16)) < 16;
    const statuses = await traffic;
    expect(new Set(statuses)).toEqual(new Set([200])); // over the budget, requests wait their turn: none is refused
    expect(await eventually(budget, (n) => n === 16)).toBe(16);
  });
});
