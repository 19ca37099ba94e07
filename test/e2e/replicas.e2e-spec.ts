import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { definitionOf, LINEAR_TASKS } from '../factories/flows';
import { longPollsHeldAt, untilHeld } from '../utils/held';
import { ServerProcess, startServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';

jest.setTimeout(300_000);

type Org = Awaited<ReturnType<typeof newOrg>>;
type FeedEvent = { id: string; type: string; previous_status: string | null; flow_execution: { id: string; status: string; run_number: number } };

async function call(server: ServerProcess, org: Org, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...org.auth(), ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * Three server processes on one fresh database, as replicas behind a load balancer: they start
 * together (migrations under an advisory lock), and writers spread over all three never break run
 * numbers, the concurrency limit, or the feed's exactly-once, commit-ordered delivery.
 */
describe('several server processes on one database', () => {
  let admin: Client;
  let database: string;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    database = `flows_replicas_${randomBytes(4).toString('hex')}`;
    admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${database}`;
    // All three at once on an empty database: each one tries to migrate.
    servers.push(...(await Promise.all([0, 1, 2].map(() => startServerProcess({ DATABASE_URL: url.toString(), DB_POOL_SIZE: '5' })))));
    await Promise.all(servers.map((s) => waitUntilReady(s)));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it('starts three at once on an empty database: one migrates, the others wait and find nothing to do', async () => {
    for (const server of servers) expect(server.child.exitCode).toBeNull();
    const db = new Client({ connectionString: process.env.DATABASE_URL!.replace(/\/[^/]*$/, `/${database}`) });
    await db.connect();
    try {
      const { rows } = await db.query(`SELECT name, count(*)::int AS n FROM migrations GROUP BY name`);
      expect(rows.length).toBeGreaterThanOrEqual(2);
      for (const row of rows) expect(row.n).toBe(1);
    } finally {
      await db.end();
    }
  });

  it('8 writers over three processes: exact run numbers, the limit kept, and a follower sees every event once in commit order', async () => {
    const org = await newOrg();
    const limit = 4;
    expect((await call(servers[0], org, 'PUT', '/api/organizations/settings', { max_concurrent_executions: limit })).status).toBe(200);
    const flow = await call(servers[1], org, 'POST', '/api/flows', { display_name: 'Replicas', definition: definitionOf(LINEAR_TASKS) });
    expect(flow.status).toBe(201);

    // The follower reads the feed through one process while the writers go through all three.
    const seen: FeedEvent[] = [];
    let cursor = '0';
    let writing = true;
    const follow = async () => {
      for (;;) {
        const page = await call(servers[0], org, 'GET', `/api/flow-executions/events?after=${cursor}&limit=50`, undefined, { Prefer: 'wait=1' });
        expect(page.status).toBe(200);
        seen.push(...page.body.events);
        cursor = page.body.next_cursor;
        if (!writing && page.body.events.length === 0) return;
      }
    };
    const follower = follow();

    const expected: string[] = [];
    const writer = async (w: number) => {
      for (let i = 0; i < 6; i++) {
        const server = servers[(w + i) % servers.length];
        const created = await call(server, org, 'POST', '/api/flow-executions', { flow_id: flow.body.id, input: { w, i } });
        expect(created.status).toBe(201);
        expected.push(`${created.body.id} flow_execution.created`);
        if (created.body.status === 'running' && i % 2 === 0) {
          const done = await call(
            servers[(w + i + 1) % servers.length],
            org,
            'PATCH',
            `/api/flow-executions/${created.body.id}/status?status=completed`,
            undefined,
            {
              Authorization: `Bearer ${org.tokens.worker}`,
            },
          );
          if (done.status === 200) expected.push(`${created.body.id} flow_execution.status_changed running→completed`);
          else expect(done.status).toBe(409); // completed or cancelled meanwhile: never a 5xx
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    writing = false;
    await follower;

    // Exactly once, in increasing id (commit) order.
    const ids = seen.map((e) => BigInt(e.id));
    expect(new Set(ids.map(String)).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true);
    // Every write the writers saw acknowledged is there; admissions from the queue appear as their own events.
    const described = seen.map((e) =>
      e.type === 'flow_execution.created'
        ? `${e.flow_execution.id} ${e.type}`
        : `${e.flow_execution.id} ${e.type} ${e.previous_status}→${e.flow_execution.status}`,
    );
    for (const entry of expected) expect(described).toContain(entry);
    expect(described.filter((d) => !expected.includes(d)).every((d) => d.endsWith('queued→running'))).toBe(true);

    // Run numbers: exactly 1..48 in creation order, whichever process created them.
    const created = seen.filter((e) => e.type === 'flow_execution.created');
    expect(created).toHaveLength(48);
    expect(created.map((e) => e.flow_execution.run_number).sort((a, b) => a - b)).toEqual(Array.from({ length: 48 }, (_, i) => i + 1));
    expect(created.map((e) => e.flow_execution.run_number)).toEqual(created.map((e) => e.flow_execution.run_number).sort((a, b) => a - b));

    const settings = await call(servers[2], org, 'GET', '/api/organizations/settings');
    expect(settings.body.running_executions).toBeLessThanOrEqual(limit);
    // Replaying the feed's status history: never more than the limit active at once.
    const active = new Set<string>();
    for (const e of seen) {
      const s = e.flow_execution.status;
      if (s === 'running' || s === 'awaiting_input' || s === 'cancel_requested') active.add(e.flow_execution.id);
      else active.delete(e.flow_execution.id);
      expect(active.size).toBeLessThanOrEqual(limit);
    }
  });

  it('wakes a long-poll held on one process when another process commits the change', async () => {
    const org = await newOrg();
    const flow = await call(servers[0], org, 'POST', '/api/flows', { display_name: 'Wake', definition: definitionOf(LINEAR_TASKS) });
    const e = await call(servers[0], org, 'POST', '/api/flow-executions', { flow_id: flow.body.id, input: {} });
    const first = await fetch(`${servers[1].url}/api/flow-executions/${e.body.id}`, { headers: org.auth() });
    const etag = first.headers.get('etag')!;
    const before = await longPollsHeldAt(servers[1].url);
    const held = fetch(`${servers[1].url}/api/flow-executions/${e.body.id}`, { headers: { ...org.auth(), 'If-None-Match': etag, Prefer: 'wait=30' } });
    await untilHeld(() => longPollsHeldAt(servers[1].url), before);
    await call(servers[2], org, 'PATCH', `/api/flow-executions/${e.body.id}/status?status=failed`, undefined, { Authorization: `Bearer ${org.tokens.worker}` });
    const res = await held;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('failed');
  });
});
