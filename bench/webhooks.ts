import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { freePort, stopChild } from './processes';

const USAGE = `npm run bench:webhooks -- [--webhooks 32] [--events 300] [--rate 4] [--seconds 10]
  A fresh database on DATABASE_URL's server (dropped afterwards), or an embedded PostgreSQL when unset.
  1. drain: --events executions are committed with no sender running (one event each, one delivery per
     webhook), then a server with the worker starts: deliveries per second until all have arrived.
  2. steady: --rate executions per second for --seconds while the worker runs: commit-to-receipt delay.
  Results: bench/results/webhooks.{json,md}.`;

const ROOT = resolve(__dirname, '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');
const APP_MAIN = join(ROOT, 'dist', 'src', 'main.js');
const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The endpoint all webhooks point at: records when each message arrived and its event's occurred_at. */
class Receiver {
  readonly arrivals: { at: number; occurredAt: number; id: string }[] = [];
  private readonly server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { occurred_at: string };
      this.arrivals.push({ at, occurredAt: Date.parse(body.occurred_at), id: String(req.headers['webhook-id']) });
      res.writeHead(204).end();
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async waitFor(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.arrivals.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.arrivals.length} of ${count} deliveries arrived in ${timeoutMs / 1000} s`);
      await sleep(20);
    }
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      webhooks: { type: 'string', default: '32' },
      events: { type: 'string', default: '300' },
      rate: { type: 'string', default: '4' },
      seconds: { type: 'string', default: '10' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const webhooks = Number(values.webhooks);
  const events = Number(values.events);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  mkdirSync(RESULTS, { recursive: true });

  const jwtSecret = randomBytes(32).toString('hex');
  const { url: databaseUrl, stop: stopDatabase, describe } = await openDatabase();
  const receiver = new Receiver();
  try {
    const hookUrl = await receiver.start();
    const base = {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: jwtSecret,
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    };
    const orgId = randomUUID();
    const token = await new SignJWT({ org_id: orgId, role: 'org_admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bench')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(jwtSecret));
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };

    const writer = await startServer({ ...base, WEBHOOK_WORKER: 'false' });
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${writer.url}/api${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string };
    };
    for (let i = 0; i < webhooks; i++) await post('/webhooks', { url: hookUrl, event_types: ['flow_execution.created'] });
    const flow = await post('/flows', {
      display_name: 'bench',
      definition: { flow: {}, flow_configs: [{ config: { tasks: [{ name: 'receive', task_executor_name: 'receive_file', parameters: {} }] } }] },
    });
    // A high concurrency limit: every execution starts running and none waits in the queue.
    const settings = await fetch(`${writer.url}/api/organizations/settings`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ max_concurrent_executions: 100000 }),
    });
    if (!settings.ok) log(`organization settings: ${settings.status} (executions may queue; each still makes one event)`);
    const createExecutions = async (n: number, concurrency: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next++ < n) await post('/flow-executions', { flow_id: flow.id, input: {} });
        }),
      );
    };

    // 1. drain: a backlog committed while nothing sends, then one sender with the default settings.
    log(`drain: committing ${events} events for ${webhooks} webhooks with no sender running`);
    await createExecutions(events, 8);
    const expected = events * webhooks;
    const started = Date.now();
    await startServer(base); // stopped with the other children at the end
    const ready = Date.now();
    await receiver.waitFor(expected, 600_000);
    const drainEnd = receiver.arrivals[expected - 1].at;
    const firstArrival = receiver.arrivals[0].at;
    const drainPerSecond = expected / ((drainEnd - firstArrival) / 1000);
    const duplicates = expected - new Set(receiver.arrivals.map((a) => a.id)).size * webhooks;
    log(
      `drain: ${expected} deliveries in ${((drainEnd - firstArrival) / 1000).toFixed(1)} s from the first arrival: ${drainPerSecond.toFixed(0)} deliveries/s (${(drainPerSecond / webhooks).toFixed(1)} events/s); startup ${((ready - started) / 1000).toFixed(1)} s`,
    );

    // 2. steady: events at a fixed rate while the sender runs; delay from the event's commit to its receipt.
    receiver.arrivals.length = 0;
    const steadyEvents = rate * seconds;
    log(`steady: ${rate} events/s for ${seconds} s (${rate * webhooks} deliveries/s)`);
    const t0 = Date.now();
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < steadyEvents; i++) {
      const due = t0 + (i * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      inFlight.push(post('/flow-executions', { flow_id: flow.id, input: {} }));
    }
    await Promise.all(inFlight);
    await receiver.waitFor(steadyEvents * webhooks, 300_000);
    const delays = receiver.arrivals.map((a) => a.at - a.occurredAt).sort((a, b) => a - b);
    const pct = (p: number) => delays[Math.min(delays.length - 1, Math.floor((p / 100) * delays.length))];
    const steadyWindow = (receiver.arrivals[receiver.arrivals.length - 1].at - t0) / 1000;
    log(`steady: ${delays.length} deliveries, commit to receipt p50 ${pct(50)} ms, p90 ${pct(90)} ms, p99 ${pct(99)} ms, max ${delays[delays.length - 1]} ms`);

    const result = {
      date: new Date().toISOString(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
      database: describe,
      webhooks,
      drain: {
        events,
        deliveries: expected,
        seconds: (drainEnd - firstArrival) / 1000,
        deliveriesPerSecond: Math.round(drainPerSecond),
        eventsPerSecond: +(drainPerSecond / webhooks).toFixed(1),
        duplicates,
      },
      steady: {
        eventsPerSecond: rate,
        seconds,
        deliveries: delays.length,
        windowSeconds: steadyWindow,
        p50: pct(50),
        p90: pct(90),
        p99: pct(99),
        max: delays[delays.length - 1],
      },
    };
    writeFileSync(join(RESULTS, 'webhooks.json'), JSON.stringify(result, null, 2));
    writeFileSync(
      join(RESULTS, 'webhooks.md'),
      [
        `| scenario | webhooks | events | deliveries | deliveries/s | events/s | p50 ms | p90 ms | p99 ms |`,
        `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
        `| drain a backlog | ${webhooks} | ${events} | ${expected} | ${result.drain.deliveriesPerSecond} | ${result.drain.eventsPerSecond} | – | – | – |`,
        `| steady ${rate} events/s for ${seconds} s | ${webhooks} | ${steadyEvents} | ${delays.length} | – | – | ${pct(50)} | ${pct(90)} | ${pct(99)} |`,
      ].join('\n') + '\n',
    );
    log('results: bench/results/webhooks.{json,md}');
  } finally {
    receiver.close();
    await Promise.all([...children].map(stopChild));
    await stopDatabase();
  }
}

async function openDatabase(): Promise<{ url: string; stop: () => Promise<void>; describe: string }> {
  const admin = process.env.DATABASE_URL;
  if (admin) {
    const name = `flows_bench_webhooks_${randomBytes(3).toString('hex')}`;
    const client = new Client({ connectionString: admin });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      describe: `${(await client.query('SELECT version()')).rows[0].version.split(' on ')[0]} (${url.host})`,
      stop: async () => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
        await client.end();
      },
    };
  }
  const handle = await startEmbeddedPostgres({ dataDir: join(ROOT, 'data', 'bench-webhooks'), port: await freePort() });
  return { url: handle.url, describe: 'embedded PostgreSQL 15', stop: () => handle.stop() };
}

async function startServer(env: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [APP_MAIN], { cwd: ROOT, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (
    !(await fetch(`${url}/health/ready`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('the server did not become ready');
    await sleep(100);
  }
  return { url, child };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
