import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { definitionOf, LINEAR_TASKS } from '../factories/flows';
import { freePort } from '../setup/global-setup';
import { ServerProcess, startServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';
import { eventually } from '../utils/eventually';
import { WebhookReceiver } from '../utils/webhook-receiver';

jest.setTimeout(300_000);

type Org = Awaited<ReturnType<typeof newOrg>>;
type FeedEvent = { id: string; type: string; reason?: string; previous_status: string | null; flow_execution: { id: string; status: string } };

async function call(server: ServerProcess, org: Org, method: string, path: string, body?: unknown, role: 'org_admin' | 'worker' = 'org_admin') {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...org.auth(role), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function must(server: ServerProcess, org: Org, method: string, path: string, body?: unknown, role: 'org_admin' | 'worker' = 'org_admin') {
  const res = await call(server, org, method, path, body, role);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A flow with `timeouts`, `runs` runs of it (the organization's limit `limit`), and a running `extract` task in each running one. */
async function setUp(server: ServerProcess, org: Org, timeouts: Record<string, unknown>, runs: number, limit = runs) {
  await must(server, org, 'PUT', '/api/organizations/settings', { max_concurrent_executions: limit });
  const flow = await must(server, org, 'POST', '/api/flows', { display_name: 'Live', definition: definitionOf(LINEAR_TASKS), settings: { timeouts } });
  // Every run first, then the tasks: no timeout can free a slot before the last run is queued.
  const executions: { id: string; status: string }[] = [];
  for (let i = 0; i < runs; i++) executions.push(await must(server, org, 'POST', '/api/flow-executions', { flow_id: flow.id, input: {} }));
  const tasks: string[] = [];
  for (const execution of executions.filter((e) => e.status === 'running')) {
    const body = { flow_execution_id: execution.id, task_name: 'extract', task_execution_idx: 0, processing_status: 'running' };
    tasks.push((await must(server, org, 'POST', '/api/task-executions', body, 'worker')).id);
  }
  return { flowId: flow.id as string, executions, tasks };
}

async function feed(server: ServerProcess, org: Org): Promise<FeedEvent[]> {
  return (await must(server, org, 'GET', '/api/flow-executions/events?limit=1000')).events;
}

/** liveness_timeouts_total of one process, summed over kinds. */
async function timeoutsCounted(server: ServerProcess, kind: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`liveness_timeouts_total{kind="${kind}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('liveness over real processes', () => {
  describe('two replicas on one database', () => {
    let admin: Client;
    let database: string;
    const servers: ServerProcess[] = [];

    beforeAll(async () => {
      database = `flows_liveness_${randomBytes(4).toString('hex')}`;
      admin = new Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${database}`);
      const url = new URL(process.env.DATABASE_URL!);
      url.pathname = `/${database}`;
      const env = { DATABASE_URL: url.toString(), DB_POOL_SIZE: '5', LIVENESS_SWEEP_INTERVAL_MS: '50', WEBHOOK_ALLOW_PRIVATE_URLS: 'true' };
      servers.push(...(await Promise.all([0, 1].map(() => startServerProcess(env)))));
      await Promise.all(servers.map((s) => waitUntilReady(s)));
    });

    afterAll(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    });

    it('workers that stop heartbeating: each task and run fails once, the queued runs are admitted, events in order, webhooks delivered', async () => {
      const org = await newOrg();
      const receiver = await WebhookReceiver.start();
      try {
        await must(servers[0], org, 'POST', '/api/webhooks', {
          url: receiver.url(),
          event_types: ['task_execution.timed_out', 'flow_execution.status_changed'],
        });
        const before = await Promise.all(servers.map((s) => timeoutsCounted(s, 'heartbeat_timeout')));
        const { executions, tasks } = await setUp(servers[1], org, { task_heartbeat_seconds: 1 }, 12, 8);
        const running = executions.filter((e) => e.status === 'running');
        const queued = executions.filter((e) => e.status === 'queued');
        expect([running.length, queued.length]).toEqual([8, 4]);

        // Every stuck run fails; the four waiting ones start in their place (and have no task, so they stay running).
        const events = await eventually(
          () => feed(servers[0], org),
          (list) => list.filter((e) => e.reason === 'admit').length === 4 && list.filter((e) => e.flow_execution.status === 'failed').length === 8,
          30_000,
        );
        for (const run of running) {
          const own = events.filter((e) => e.flow_execution.id === run.id && e.type !== 'flow_execution.created' && e.type !== 'task_execution.updated');
          expect(own.map((e) => [e.type, e.previous_status, e.flow_execution.status, e.reason])).toEqual([
            ['task_execution.timed_out', null, 'running', 'heartbeat_timeout'],
            ['flow_execution.status_changed', 'running', 'failed', 'heartbeat_timeout'],
          ]);
        }
        for (const run of queued) {
          const own = events.filter((e) => e.flow_execution.id === run.id && e.type === 'flow_execution.status_changed');
          expect(own.map((e) => [e.previous_status, e.flow_execution.status, e.reason])).toEqual([['queued', 'running', 'admit']]);
        }
        for (const id of tasks) {
          const task = await must(servers[0], org, 'GET', `/api/task-executions/${id}`);
          expect(task).toMatchObject({ processing_status: 'failed', error: { code: 'heartbeat_timeout' } });
        }
        // Exactly once across the two processes: their counters add up to the tasks timed out.
        const after = await Promise.all(servers.map((s) => timeoutsCounted(s, 'heartbeat_timeout')));
        expect(after[0] - before[0] + after[1] - before[1]).toBe(8);

        // 8 timed_out + 8 failed + 4 admitted, each delivered.
        const received = await receiver.waitFor(20);
        const delivered = received.map((r) => JSON.parse(r.body) as FeedEvent);
        expect(delivered.filter((e) => e.type === 'task_execution.timed_out')).toHaveLength(8);
        expect(new Set(delivered.map((e) => e.id)).size).toBe(delivered.length);
      } finally {
        await receiver.close();
      }
    });

    it('a cancel no worker acknowledges ends cancelled after cancel_seconds, and heartbeats report it meanwhile', async () => {
      const org = await newOrg();
      const { executions, tasks } = await setUp(servers[0], org, { cancel_seconds: 1, task_heartbeat_seconds: 60 }, 1);
      const id = executions[0].id;
      expect((await call(servers[1], org, 'POST', `/api/flow-executions/${id}/cancel`)).status).toBe(204);
      const beat = await must(servers[0], org, 'POST', `/api/task-executions/${tasks[0]}/heartbeat`, { details: { step: 1 } }, 'worker');
      expect(beat).toMatchObject({ cancel_requested: true, flow_execution_status: 'cancel_requested' });
      await eventually(
        () => must(servers[1], org, 'GET', `/api/flow-executions/${id}`),
        (run) => run.status === 'cancelled',
        30_000,
      );
      const changes = (await feed(servers[0], org)).filter((e) => e.type === 'flow_execution.status_changed');
      expect(changes.map((e) => [e.previous_status, e.flow_execution.status, e.reason])).toEqual([
        ['running', 'cancel_requested', 'cancel'],
        ['cancel_requested', 'cancelled', 'cancel_timeout'],
      ]);
    });

    it('never times out a run whose worker keeps heartbeating', async () => {
      const org = await newOrg();
      const { executions, tasks } = await setUp(servers[0], org, { task_heartbeat_seconds: 1 }, 1);
      const until = Date.now() + 3_000;
      for (let i = 0; Date.now() < until; i++) {
        await must(servers[i % 2], org, 'POST', `/api/task-executions/${tasks[0]}/heartbeat`, { details: { i } }, 'worker');
        await new Promise((r) => setTimeout(r, 300));
      }
      expect((await must(servers[1], org, 'GET', `/api/flow-executions/${executions[0].id}`)).status).toBe('running');
      expect((await must(servers[0], org, 'GET', `/api/task-executions/${tasks[0]}`)).processing_status).toBe('running');
    });
  });

  describe('PostgreSQL restarted while runs are due', () => {
    let dir: string;
    let port: number;
    let pg: EmbeddedPostgresHandle;
    let server: ServerProcess;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'flows-liveness-'));
      port = await freePort();
      pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port });
      server = await startServerProcess({ DATABASE_URL: pg.url, LIVENESS_SWEEP_INTERVAL_MS: '50' });
      await waitUntilReady(server);
    });

    afterAll(async () => {
      await server?.stop();
      await pg?.stop();
      rmSync(dir, { recursive: true, force: true });
      if (pg && pg.clusterDir !== join(dir, 'pg')) rmSync(pg.clusterDir, { recursive: true, force: true });
    });

    it('fires each timeout once after recovery', async () => {
      const org = await newOrg();
      const { executions } = await setUp(server, org, { task_heartbeat_seconds: 2 }, 5);
      await pg.stop();
      // Down for longer than the heartbeat timeout: every run falls due while the database is away.
      await new Promise((r) => setTimeout(r, 2_500));
      pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port });

      const events = await eventually(
        () => feed(server, org).catch(() => [] as FeedEvent[]),
        (list) => list.filter((e) => e.flow_execution.status === 'failed').length === 5,
        60_000,
      );
      for (const run of executions) {
        const own = events.filter(
          (e) => e.flow_execution.id === run.id && (e.type === 'task_execution.timed_out' || e.type === 'flow_execution.status_changed'),
        );
        expect(own.map((e) => [e.type, e.reason])).toEqual([
          ['task_execution.timed_out', 'heartbeat_timeout'],
          ['flow_execution.status_changed', 'heartbeat_timeout'],
        ]);
      }
      // The sweep counts what it fired once it is over (after its overdue counts), a moment after the events commit.
      expect(
        await eventually(
          () => timeoutsCounted(server, 'heartbeat_timeout'),
          (n) => n === 5,
        ),
      ).toBe(5);
    });
  });
});
