import { Agent, request } from 'node:http';
import { Client } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { EventLogRepository } from '../src/event-log/event-log.repository';
import { FlowExecutionRow, toFlowExecutionResponse } from '../src/flow-executions/dto/flow-execution.dto';
import { FlowExecutionsRepository } from '../src/flow-executions/flow-executions.repository';
import { OrganizationsRepository } from '../src/organizations/organizations.repository';
import { BenchContext, ms, suite } from './context';
import { rssKB, untilIdle } from './processes';
import type { Fixture } from './seed';

/**
 * The targets of "watching runs": wake latency across processes, the cost of 10,000 idle
 * long-polls on one process, and what writing events adds to a write.
 */
export interface WatchResults {
  wake: { samples: number; p50: number; p99: number };
  idle: {
    polls: number;
    rssBeforeMB: number;
    rssHeldMB: number;
    dbConnectionsBefore: number;
    dbConnectionsHeld: number;
    getAloneRps: number;
    getBesideRps: number;
  };
  writes: { create: WriteCost; statusChange: WriteCost };
}

interface WriteCost {
  withoutEventsMs: number;
  withEventsMs: number;
  ratio: number;
}

const BASE = '/api/flow-executions';
const IDLE_BATCH = 250;

/**
 * Hold a long-poll on `waitUrl`'s process, change the run through `writeUrl`'s, and time the held
 * response against the writer's own: both leave after the commit, so the difference is the wake's
 * cost beyond the commit (negative when the waiter is answered first).
 */
export async function wakeLatency(
  waitUrl: string,
  writeUrl: string,
  auth: Record<string, string>,
  flowId: string,
  samples: number,
): Promise<WatchResults['wake']> {
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const created = await call(`${writeUrl}${BASE}`, 'POST', auth, { flow_id: flowId, input: { i } });
    const first = await call(`${waitUrl}${BASE}/${created.body.id}`, 'GET', auth);
    const held = call(`${waitUrl}${BASE}/${created.body.id}`, 'GET', { ...auth, 'If-None-Match': first.etag!, Prefer: 'wait=30' });
    await sleep(20); // the waiter is registered well before the write
    const written = await call(`${writeUrl}${BASE}/${created.body.id}/cancel`, 'POST', auth);
    const woke = await held;
    const status = (woke.body as unknown as { status: string }).status;
    if (!/^cancel/.test(status)) throw new Error(`the long-poll answered ${JSON.stringify(woke.body)}`);
    latencies.push(woke.at - written.at);
  }
  latencies.sort((a, b) => a - b);
  return { samples, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

/**
 * Opens `polls` long-polls (If-None-Match current, wait=60) spread over `ids`; resolves once all are
 * held, and answers a function that abandons them.
 */
export async function holdIdlePolls(appUrl: string, auth: Record<string, string>, ids: string[], polls: number): Promise<() => void> {
  const etags: string[] = [];
  for (const id of ids) etags.push((await call(`${appUrl}${BASE}/${id}`, 'GET', auth)).etag!);
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: ReturnType<typeof request>[] = [];
  // In batches, as clients arrive over a few seconds, not as one burst that queues on the pool.
  for (let first = 0; first < polls; first += IDLE_BATCH) {
    await new Promise<void>((resolve, reject) => {
      let connected = 0;
      const batch = Math.min(IDLE_BATCH, polls - first);
      for (let i = first; i < first + batch; i++) {
        const n = i % ids.length;
        const req = request(`${appUrl}${BASE}/${ids[n]}`, { agent, headers: { ...auth, 'If-None-Match': etags[n], Prefer: 'wait=60' } });
        req.on('socket', (socket) => socket.once('connect', () => ++connected === batch && resolve()));
        req.on('response', (res) => reject(new Error(`an idle long-poll was answered ${res.statusCode} early`)));
        req.on('error', reject);
        req.end();
        requests.push(req);
      }
    });
    await sleep(200);
  }
  return () => {
    for (const req of requests) {
      req.removeAllListeners('response');
      req.removeAllListeners('error');
      req.on('error', () => undefined);
      req.destroy();
    }
    agent.destroy();
  };
}

/**
 * What the event append adds to a write, with the app's own repositories and SQL: a create and a
 * status change, each timed as a whole transaction with and without its event, interleaved.
 */
export async function writeCosts(databaseUrl: string, fixture: Fixture, rounds: number): Promise<WatchResults['writes']> {
  const dataSource = await new DataSource({ ...buildDataSourceOptions(databaseUrl, { poolSize: 2 }), entities: [] }).initialize();
  try {
    const executions = new FlowExecutionsRepository(dataSource);
    const organizations = new OrganizationsRepository();
    const events = new EventLogRepository(dataSource);
    const timings = { create: [[], []] as number[][], statusChange: [[], []] as number[][] };
    for (let i = 0; i < rounds; i++) {
      for (const withEvents of i % 2 ? [true, false] : [false, true]) {
        let started = performance.now();
        const row = await dataSource.transaction(async (m) => {
          const limit = (await organizations.lock(m, fixture.organizationId)).max_concurrent_executions ?? 1_000_000;
          const created = await insertExecution(m, fixture, { document: `bench-${i}` }, limit);
          if (withEvents) await events.append(m, fixture.organizationId, [event('flow_execution.created', created)], []);
          return created;
        });
        timings.create[Number(withEvents)].push(performance.now() - started);

        started = performance.now();
        await dataSource.transaction(async (m) => {
          await organizations.lock(m, fixture.organizationId);
          await executions.lockForUpdate(m, row.id);
          const updated = (await executions.setStatus(m, row.id, { from: [row.status], to: 'completed' }, 'bench'))!;
          if (withEvents) await events.append(m, fixture.organizationId, [event('flow_execution.status_changed', updated, row.status)], []);
        });
        timings.statusChange[Number(withEvents)].push(performance.now() - started);
      }
    }
    const cost = ([without, withEvents]: number[][]): WriteCost => {
      const [a, b] = [median(without), median(withEvents)];
      return { withoutEventsMs: a, withEventsMs: b, ratio: b / a };
    };
    return { create: cost(timings.create), statusChange: cost(timings.statusChange) };
  } finally {
    await dataSource.destroy();
  }
}

/**
 * A create's writes without its event, as separate statements in the caller's transaction (the
 * service creates in one statement, start_flow_execution, which always appends the event).
 */
async function insertExecution(m: EntityManager, fixture: Fixture, input: object, limit: number): Promise<FlowExecutionRow> {
  const [row]: FlowExecutionRow[] = await m.query(
    `WITH flow AS (
       UPDATE flows
          SET executions_count = executions_count + 1,
              last_execution_at = GREATEST(clock_timestamp(), last_execution_at + interval '1 microsecond')
        WHERE id = $2
        RETURNING id, executions_count, last_execution_at
     )
     INSERT INTO flow_executions AS fe (organization_id, flow_id, flow_version, status, input, run_number, modified_by, created_at, updated_at)
     SELECT $1, flow.id, 1, CASE WHEN o.active_executions < $4 THEN 'running' ELSE 'queued' END, $3, flow.executions_count, 'bench',
            flow.last_execution_at, flow.last_execution_at
       FROM flow, organizations o WHERE o.id = $1
     RETURNING fe.id, fe.organization_id, fe.flow_id, fe.flow_version, fe.status, fe.input::text AS input, fe.run_number, fe.triggered_task_executor_name,
               fe.pricing_config_id, fe.modified_by, fe.created_at::text, fe.updated_at::text`,
    [fixture.organizationId, fixture.postFlowId, input, limit],
  );
  return row;
}

function event(
  type: 'flow_execution.created' | 'flow_execution.status_changed',
  row: Parameters<typeof toFlowExecutionResponse>[0],
  previous: string | null = null,
) {
  return {
    type,
    flow_id: row.flow_id,
    flow_execution_id: row.id,
    payload: { flow_execution: toFlowExecutionResponse(row, { includeRunNumber: true }), previous_status: previous },
  };
}

/** One request on a connection of its own, body read whole; a status above 299 throws. */
function call(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<{ etag?: string; body: { id: string }; at: number }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(url, { method, agent: false, headers: { ...headers, ...(payload ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        if ((res.statusCode ?? 0) > 299) reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`));
        else resolve({ etag: res.headers.etag, body: text ? JSON.parse(text) : null, at: performance.now() });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const median = (values: number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export const WATCH = 'watch';
export const IDLE_POLLS = 10_000;

/**
 * Watching runs: wake latency with the waiter and the writer on different processes; 10,000 idle
 * long-polls on one process (its RSS, its database connections, GET by id for everyone else beside
 * them); and what writing events adds to a create and a status change.
 */
async function benchWatching(ctx: BenchContext): Promise<WatchResults> {
  const { database, fixture, options, auth, log } = ctx;
  const getById = ctx.scenarios.find((s) => s.key === 'get')!;
  const second = await ctx.startApp('app-2');
  log('watch: wake latency, 200 long-polls woken from another process');
  const wake = await wakeLatency(ctx.app.url, second.url, auth, fixture.postFlowId, 200);
  log(`watch: wake p50 ${ms(wake.p50)} ms, p99 ${ms(wake.p99)} ms`);
  await second.stop(); // from here on, the database connections counted are the app's

  const db = new Client({ connectionString: database.url });
  await db.connect();
  const connections = async () =>
    Number((await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows[0].n);
  const rss = () => rssKB(ctx.app.child.pid!) / 1024;
  try {
    const ids = (await db.query(`SELECT id FROM flow_executions WHERE flow_id = $1 AND status <> 'deleted' LIMIT 1000`, [fixture.smallFlowId])).rows.map(
      (r) => r.id as string,
    );
    const idle = { polls: IDLE_POLLS, rssBeforeMB: 0, rssHeldMB: 0, dbConnectionsBefore: 0, dbConnectionsHeld: 0 };
    const getRuns: { alone: number[]; beside: number[] } = { alone: [], beside: [] };
    for (let round = 1; round <= options.rounds; round++) {
      getRuns.alone.push((await ctx.measure(ctx.app, getById, 32)).requestsPerSecond);
      // After a run at 32 connections the pool is at its size: what the polls add comes on top.
      idle.rssBeforeMB = Math.max(idle.rssBeforeMB, rss());
      idle.dbConnectionsBefore = Math.max(idle.dbConnectionsBefore, await connections());
      log(`watch: holding ${IDLE_POLLS} idle long-polls (round ${round})`);
      const release = await holdIdlePolls(ctx.app.url, auth, ids, IDLE_POLLS);
      await untilIdle(ctx.app.child.pid!); // every poll read its row and parked
      idle.rssHeldMB = Math.max(idle.rssHeldMB, rss());
      idle.dbConnectionsHeld = Math.max(idle.dbConnectionsHeld, await connections());
      getRuns.beside.push((await ctx.measure(ctx.app, getById, 32)).requestsPerSecond);
      release();
      await sleep(1_000);
    }
    log(
      `watch: GET by id c=32 alone ${getRuns.alone.map((n) => n.toFixed(0)).join(', ')} req/s, beside ${IDLE_POLLS} idle long-polls ${getRuns.beside.map((n) => n.toFixed(0)).join(', ')} req/s`,
    );
    log(
      `watch: RSS ${idle.rssBeforeMB.toFixed(0)} → ${idle.rssHeldMB.toFixed(0)} MB, database connections ${idle.dbConnectionsBefore} → ${idle.dbConnectionsHeld}`,
    );

    log('watch: write cost with and without events, 300 interleaved rounds');
    const writes = await writeCosts(database.url, fixture, 300);
    log(`watch: create ×${writes.create.ratio.toFixed(2)}, status change ×${writes.statusChange.ratio.toFixed(2)} with events`);
    return { wake, idle: { ...idle, getAloneRps: median(getRuns.alone), getBesideRps: median(getRuns.beside) }, writes };
  } finally {
    await db.end();
  }
}

function watchReport(w: WatchResults): string[] {
  const cost = (c: WatchResults['writes']['create']) => `${ms(c.withoutEventsMs)} → ${ms(c.withEventsMs)} ms (×${c.ratio.toFixed(2)})`;
  return [
    'Watching runs:',
    '',
    '| measure | result |',
    '| --- | --- |',
    `| wake latency: held response − the writer's own response (both leave after the commit), waiter and writer on different processes, ${w.wake.samples} samples | p50 ${ms(w.wake.p50)} ms, p99 ${ms(w.wake.p99)} ms |`,
    `| ${w.idle.polls.toLocaleString('en')} idle long-polls on one process: RSS | ${w.idle.rssBeforeMB.toFixed(0)} → ${w.idle.rssHeldMB.toFixed(0)} MB |`,
    `| the same: the process's database connections | ${w.idle.dbConnectionsBefore} → ${w.idle.dbConnectionsHeld} |`,
    `| GET by id at 32 connections, alone → beside them | ${w.idle.getAloneRps.toFixed(0)} → ${w.idle.getBesideRps.toFixed(0)} req/s (×${(w.idle.getBesideRps / w.idle.getAloneRps).toFixed(2)}) |`,
    `| create transaction, p50 without → with its event | ${cost(w.writes.create)} |`,
    `| status-change transaction, p50 without → with its event | ${cost(w.writes.statusChange)} |`,
    '',
  ];
}

/** `--only watch`. */
export const watchSuite = suite({
  name: WATCH,
  run: benchWatching,
  markdown: (result: WatchResults) => watchReport(result).join('\n'),
});
