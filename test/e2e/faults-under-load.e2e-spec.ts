import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, IncomingMessage, request } from 'node:http';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { definitionOf, LINEAR_TASKS } from '../factories/flows';
import { freePort } from '../setup/global-setup';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { eventually } from '../utils/eventually';
import { startServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** The connection it came on (the agent takes it back at the end). */
  socket: Socket;
}

function call(base: string, agent: Agent, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    let socket: Socket;
    const req = request(`${base}${path}`, { method, agent, headers: { ...headers, ...(payload ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, socket }));
      res.on('error', reject);
    });
    req.once('socket', (s: Socket) => (socket = s));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Run numbers of a flow are exactly 1..N in creation order, and the flow's counter is N. */
async function expectExactRunNumbers(query: (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>, flowId: string): Promise<number> {
  const rows = await query('SELECT run_number FROM flow_executions WHERE flow_id = $1 ORDER BY created_at, id', [flowId]);
  expect(rows.map((r) => Number(r.run_number))).toEqual(rows.map((_, i) => i + 1));
  const [flow] = await query('SELECT executions_count FROM flows WHERE id = $1', [flowId]);
  expect(Number(flow.executions_count)).toBe(rows.length);
  return rows.length;
}

// The app on a PostgreSQL of its own, which the test stops and starts again under load.
describe('PostgreSQL restarted while 8 clients create executions', () => {
  let dir: string;
  let port: number;
  let pg: EmbeddedPostgresHandle;
  let t: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flows-restart-'));
    port = await freePort();
    pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port });
    t = await createTestApp({ DATABASE_URL: pg.url });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (pg && pg.clusterDir !== join(dir, 'pg')) rmSync(pg.clusterDir, { recursive: true, force: true });
  });

  it('keeps every 201, answers 503 with Retry-After while down, never 500, and is ready within 5 s of the database', async () => {
    const org = await newOrg();
    const flow = await t
      .http()
      .post('/api/flows')
      .set(org.auth())
      .send({ display_name: 'restart', definition: definitionOf(LINEAR_TASKS) })
      .expect(201);
    const flowId: string = flow.body.id;

    const created: string[] = [];
    const others: { status: number; retryAfter?: string; body: string }[] = [];
    let running = true;
    const client = async () => {
      while (running) {
        const res = await t
          .http()
          .post('/api/flow-executions')
          .set(org.auth())
          .send({ flow_id: flowId, input: { file_key: 'a.pdf' } });
        if (res.status === 201) created.push(res.body.id);
        else {
          others.push({ status: res.status, retryAfter: res.headers['retry-after'], body: JSON.stringify(res.body) });
          await sleep(20);
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);

    await eventually(() => created.length >= 40, Boolean, 30_000).catch(() => undefined); // a load to work under, however much got through
    await pg.stop();
    await eventually(() => others.length >= 20, Boolean, 10_000);
    const downAnswers = others.length;
    pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port });
    const up = Date.now();
    let readyAfterMs = Infinity;
    await eventually(
      async () => {
        if ((await t.http().get('/health/ready')).status !== 200) return false;
        readyAfterMs = Date.now() - up;
        return true;
      },
      Boolean,
      15_000,
    );
    const createdBeforeRecovery = created.length;
    await eventually(() => created.length >= createdBeforeRecovery + 40, Boolean, 30_000);
    running = false;
    await Promise.all(clients);

    expect(downAnswers).toBeGreaterThanOrEqual(20);
    expect(readyAfterMs).toBeLessThan(5_000);
    expect(created.length).toBeGreaterThanOrEqual(createdBeforeRecovery + 40);
    // Only 503s, each telling the client when to retry; never a 500.
    expect(others.filter((o) => o.status !== 503)).toEqual([]);
    expect(others.filter((o) => o.retryAfter === undefined)).toEqual([]);

    const query = (sql: string, params: unknown[]) => t.dataSource.query(sql, params);
    const stored = new Set((await query('SELECT id FROM flow_executions WHERE flow_id = $1', [flowId])).map((r: { id: string }) => r.id));
    expect(created.filter((id) => !stored.has(id))).toEqual([]);
    // A 503 whose COMMIT had reached the server may still have stored a row: extra rows, never missing ones.
    expect(await expectExactRunNumbers(query, flowId)).toBeGreaterThanOrEqual(created.length);
  }, 120_000);
});

describe('SIGTERM while 16 connections read and write', () => {
  it('completes requests in flight, fails readiness at once, closes idle connections at once, exits 0', async () => {
    const server = await startServerProcess({ DEFAULT_ORG_CONCURRENCY_LIMIT: '100000' });
    let exitedAt = 0;
    const exited = new Promise<number | null>((resolve) =>
      server.child.once('exit', (code) => {
        exitedAt = Date.now();
        resolve(code);
      }),
    );
    try {
      await waitUntilReady(server);
      const org = await newOrg();
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      const flow = await call(server.url, agent, 'POST', '/api/flows', org.auth(), { display_name: 'sigterm', definition: definitionOf(LINEAR_TASKS) });
      expect(flow.status).toBe(201);
      const flowId = JSON.parse(flow.body).id;
      const first = await call(server.url, agent, 'POST', '/api/flow-executions', org.auth(), { flow_id: flowId, input: { file_key: 'a' } });
      const watched = JSON.parse(first.body).id;
      const etag = (await call(server.url, agent, 'GET', `/api/flow-executions/${watched}`, org.auth())).headers.etag!;

      // An idle keep-alive connection: one request done, then nothing.
      const idleAgent = new Agent({ keepAlive: true, maxSockets: 1 });
      const idle = await call(server.url, idleAgent, 'GET', '/health/live', {});
      let idleClosedAt = 0;
      idle.socket.once('close', () => (idleClosedAt = Date.now()));

      // Readiness asked on a connection whose request is half sent when the signal arrives.
      const probe = connect(Number(new URL(server.url).port), '127.0.0.1');
      let probeAnswer = '';
      probe.setEncoding('utf8');
      probe.on('data', (chunk: string) => (probeAnswer += chunk));
      probe.on('error', () => undefined);
      await new Promise((resolve) => probe.once('connect', resolve));
      probe.write('GET /health/ready HTTP/1.1\r\nHost: x\r\n');

      const sentCreates: string[] = [];
      const acknowledged = new Set<string>();
      const statuses: number[] = [];
      const heldAnswers: (number | string)[] = [];
      let signalled = false;
      const worker = async (i: number) => {
        for (let n = 0; ; n++) {
          try {
            if (i < 4) {
              // Long-polls held on an unchanged execution: the drain must answer them, not wait them out.
              const res = await call(server.url, agent, 'GET', `/api/flow-executions/${watched}`, { ...org.auth(), 'If-None-Match': etag, Prefer: 'wait=30' });
              if (signalled) heldAnswers.push(res.status);
              statuses.push(res.status);
            } else if (n % 2 === 0) {
              const marker = randomUUID();
              sentCreates.push(marker);
              const res = await call(server.url, agent, 'POST', '/api/flow-executions', org.auth(), { flow_id: flowId, input: { file_key: 'a', marker } });
              statuses.push(res.status);
              if (res.status === 201) acknowledged.add(marker);
            } else {
              statuses.push((await call(server.url, agent, 'GET', `/api/flow-executions?flow_id=${flowId}&page_size=5`, org.auth())).status);
            }
          } catch (error) {
            // After the signal, new requests find the door closed; that is the point.
            if (i < 4 && signalled) heldAnswers.push((error as NodeJS.ErrnoException).code ?? 'error');
            if (signalled) return;
            throw error;
          }
          if (signalled && i < 4) return;
        }
      };
      const workers = Array.from({ length: 16 }, (_, i) => worker(i));
      await eventually(() => statuses.length >= 80, Boolean, 30_000).catch(() => undefined); // a load to work under, however much got through
      signalled = true;
      const signalledAt = Date.now();
      server.child.kill('SIGTERM');
      await sleep(200);
      probe.write('\r\n');
      // One signal only: a second SIGTERM would end the process at once. Bounded beyond SHUTDOWN_TIMEOUT_MS's default.
      const code = await Promise.race([exited, sleep(20_000).then(() => 'still running after 20 s')]);
      if (code !== 0) await server.stop('SIGKILL');
      await Promise.all(workers);
      await eventually(() => probeAnswer.includes('}'), Boolean, 2_000);
      agent.destroy();
      idleAgent.destroy();

      expect(code).toBe(0);
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      // The four held long-polls were answered (304: unchanged) instead of cut.
      expect(heldAnswers).toEqual([304, 304, 304, 304]);
      expect(probeAnswer).toMatch(/^HTTP\/1\.1 503 /);
      expect(probeAnswer).toMatch(/Connection: close/i);
      expect(probeAnswer).toContain('"code":"service_unavailable"');
      // Closed at the signal, not after the 5 s keep-alive timeout that used to hold the exit.
      expect(idleClosedAt).toBeGreaterThan(0);
      expect(idleClosedAt - signalledAt).toBeLessThan(2_500);
      expect(exitedAt - signalledAt).toBeLessThan(5_000);

      // Every create the server committed reached its client: nothing in flight was cut.
      const db = new Client({ connectionString: process.env.DATABASE_URL });
      await db.connect();
      try {
        const { rows } = await db.query(`SELECT input->>'marker' AS marker FROM flow_executions WHERE flow_id = $1 AND input ? 'marker'`, [flowId]);
        const stored = rows.map((r) => r.marker as string);
        expect(stored.filter((m) => !acknowledged.has(m))).toEqual([]);
        expect([...acknowledged].filter((m) => !stored.includes(m))).toEqual([]);
        expect(acknowledged.size).toBeGreaterThan(0);
      } finally {
        await db.end();
      }
    } finally {
      await server.stop('SIGKILL');
    }
  }, 120_000);
});

describe('SIGKILL in the middle of a burst of creates', () => {
  it('leaves no half-written execution, task execution or event', async () => {
    const server = await startServerProcess({ DEFAULT_ORG_CONCURRENCY_LIMIT: '100000' });
    try {
      await waitUntilReady(server);
      const org = await newOrg();
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      const flow = await call(server.url, agent, 'POST', '/api/flows', org.auth(), { display_name: 'sigkill', definition: definitionOf(LINEAR_TASKS) });
      const flowId = JSON.parse(flow.body).id;

      const acknowledged: string[] = [];
      let done = 0;
      let killed = false;
      const worker = async () => {
        while (!killed) {
          try {
            const res = await call(server.url, agent, 'POST', '/api/flow-executions', org.auth(), { flow_id: flowId, input: { file_key: 'a' } });
            if (res.status !== 201) throw new Error(`create answered ${res.status}: ${res.body}`);
            const id = JSON.parse(res.body).id;
            acknowledged.push(id);
            // Each run also gets a task execution with two tags, written with its event in one transaction.
            const task = await call(server.url, agent, 'POST', '/api/task-executions', org.auth('worker'), {
              flow_execution_id: id,
              task_name: 'receive',
              task_execution_idx: 0,
              processing_status: 'completed',
              tags: ['priority:high', 'customer:acme'],
            });
            if (task.status !== 201) throw new Error(`task execution answered ${task.status}: ${task.body}`);
            done++;
          } catch (error) {
            if (!killed) throw error;
          }
        }
      };
      const workers = Array.from({ length: 16 }, worker);
      await eventually(() => done >= 30, Boolean, 30_000);
      killed = true;
      await server.stop('SIGKILL');
      await Promise.all(workers);
      agent.destroy();
      expect(done).toBeGreaterThanOrEqual(30);

      const db = new Client({ connectionString: process.env.DATABASE_URL });
      await db.connect();
      try {
        // The killed process's backends roll back once they notice their client is gone.
        await eventually(
          async () => {
            const { rows } = await db.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')`,
            );
            return rows[0].n === 0;
          },
          Boolean,
          10_000,
        ).catch(() => undefined); // what committed is checked either way
        const query = async (sql: string, params: unknown[]) => (await db.query(sql, params)).rows;
        const executions = await query('SELECT id FROM flow_executions WHERE flow_id = $1', [flowId]);
        const ids = new Set(executions.map((r) => r.id as string));
        expect(acknowledged.filter((id) => !ids.has(id))).toEqual([]);
        await expectExactRunNumbers(query, flowId);

        // Each execution has its creation event, and each event its execution.
        const createdEvents = await query(`SELECT flow_execution_id FROM flow_events WHERE flow_id = $1 AND type = 'flow_execution.created'`, [flowId]);
        expect(createdEvents.map((r) => r.flow_execution_id).sort()).toEqual([...ids].sort());
        const orphanEvents = await query(
          'SELECT e.id FROM flow_events e LEFT JOIN flow_executions x ON x.id = e.flow_execution_id WHERE e.flow_id = $1 AND x.id IS NULL',
          [flowId],
        );
        expect(orphanEvents).toEqual([]);
        // Each task execution has its event and both its tags; each tag its task execution.
        const tasks = await query(
          `SELECT t.id,
                  (SELECT count(*)::int FROM flow_events e WHERE e.flow_execution_id = t.flow_execution_id AND e.type = 'task_execution.updated'
                      AND e.payload->'task_execution'->>'id' = t.id::text) AS events,
                  (SELECT count(*)::int FROM task_execution_tags g WHERE g.flow_execution_id = t.flow_execution_id AND g.task_name = t.task_name) AS tags
             FROM task_executions t JOIN flow_executions x ON x.id = t.flow_execution_id WHERE x.flow_id = $1`,
          [flowId],
        );
        expect(tasks.length).toBeGreaterThanOrEqual(30);
        expect(tasks.filter((task) => task.events !== 1 || task.tags !== 2)).toEqual([]);
        const orphanTags = await query(
          `SELECT g.id FROM task_execution_tags g JOIN flow_executions x ON x.id = g.flow_execution_id
            WHERE x.flow_id = $1 AND NOT EXISTS (SELECT 1 FROM task_executions t WHERE t.flow_execution_id = g.flow_execution_id AND t.task_name = g.task_name)`,
          [flowId],
        );
        expect(orphanTags).toEqual([]);
      } finally {
        await db.end();
      }
    } finally {
      await server.stop('SIGKILL');
    }
  }, 120_000);
});
