import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import type { Fixture } from './seed';

/**
 * `npm run bench -- --only bulk,stats` (docs/benchmarks.md#bulk-actions-and-run-statistics).
 * stats: the latency of GET /api/flow-executions/stats on a flow of STATS_RUNS runs, per group_by.
 * bulk: a bulk cancel of BULK_RUNS queued runs (an organization of its own), its runs per second,
 * and the p99 of GET /api/flow-executions/{id} traffic (another organization) beside it and before it.
 * Both make their own flows in the bench database; the seeded fixture is only read. Registered as
 * the suites `stats` and `bulk` in bench/suites.ts; results in bench/results/latest.{json,md}.
 */

const STATS_RUNS = 100_000;
const STATS_REQUESTS = 30;
const BULK_RUNS = 20_000;
const GET_CLIENTS = 8;
const BASELINE_MS = 5_000;

export interface BulkBenchResults {
  stats: { groupBy: string; p50: number; p99: number; max: number }[] | null;
  bulk: { runs: number; seconds: number; runsPerSecond: number; getP99Before: number; getP99During: number; getRequestsDuring: number } | null;
}

interface Ctx {
  url: string;
  databaseUrl: string;
  jwtSecret: string;
  fixture: Fixture;
  only: string[] | null;
  log: (m: string) => void;
}

export async function benchBulk(ctx: Ctx): Promise<BulkBenchResults> {
  const wants = (key: string) => !ctx.only || ctx.only.includes(key);
  const db = new Client({ connectionString: ctx.databaseUrl });
  await db.connect();
  try {
    return {
      stats: wants('stats') ? await statsLatency(ctx, db) : null,
      bulk: wants('bulk') ? await bulkCancel(ctx, db) : null,
    };
  } finally {
    await db.end();
  }
}

/** An organization of its own (limit `limit`) with a flow; answers the flow id and an org_admin token. */
async function organizationWithFlow(ctx: Ctx, db: Client, limit: number): Promise<{ organizationId: string; flowId: string; token: string }> {
  const organizationId = randomUUID();
  const flowId = randomUUID();
  await db.query(`INSERT INTO organizations (id, created_at, updated_at, max_concurrent_executions) VALUES ($1, now(), now(), $2)`, [organizationId, limit]);
  await db.query(
    `INSERT INTO flows (id, organization_id, display_name, status, tags, latest_version, executions_count, created_at, updated_at, modified_by)
     VALUES ($1, $2, 'Bench bulk flow', 'published', '{}', 3, 0, now(), now(), 'bench')`,
    [flowId, organizationId],
  );
  const token = await new SignJWT({ org_id: organizationId, role: 'org_admin' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench-bulk')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(ctx.jwtSecret));
  return { organizationId, flowId, token };
}

/** `n` runs of the flow over the last 90 days, three versions, statuses as the seed deals them (`status` forces one). */
async function insertRuns(db: Client, organizationId: string, flowId: string, n: number, status: string | null): Promise<void> {
  await db.query(
    `INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, input_task_name, modified_by, created_at, updated_at)
     SELECT $1, $2, 1 + k % 3,
            COALESCE($4, (ARRAY['completed', 'completed', 'completed', 'completed', 'failed', 'cancelled', 'deleted', 'stale'])[1 + abs(hashint8(k) % 8)]),
            '{"file_key": "a.pdf"}', k, 'receive', 'bench', now() - interval '90 days' + k * (interval '90 days' / $3),
            now() - interval '90 days' + k * (interval '90 days' / $3) + (abs(hashint8(-k) % 600)) * interval '1 second'
       FROM generate_series(1, $3::int) k`,
    [organizationId, flowId, n, status],
  );
  await db.query(`UPDATE flows SET executions_count = $2 WHERE id = $1`, [flowId, n]);
}

async function statsLatency(ctx: Ctx, db: Client): Promise<BulkBenchResults['stats']> {
  const { flowId, token } = await organizationWithFlow(ctx, db, 10);
  ctx.log(`stats: inserting a flow of ${STATS_RUNS.toLocaleString('en')} runs`);
  const { organizationId } = (await db.query(`SELECT organization_id AS "organizationId" FROM flows WHERE id = $1`, [flowId])).rows[0];
  await insertRuns(db, organizationId, flowId, STATS_RUNS, null);
  // Finished runs end where they were last updated, as the terminal_at trigger would have set it.
  await db.query(`UPDATE flow_executions SET terminal_at = updated_at WHERE flow_id = $1 AND status IN ('completed', 'failed', 'cancelled')`, [flowId]);
  await db.query(`VACUUM ANALYZE flow_executions`);
  const rows: NonNullable<BulkBenchResults['stats']> = [];
  for (const groupBy of ['status', 'flow_version', 'day']) {
    const times: number[] = [];
    for (let i = 0; i < STATS_REQUESTS + 3; i++) {
      const started = performance.now();
      const res = await fetch(`${ctx.url}/api/flow-executions/stats?flow_id=${flowId}&group_by=${groupBy}`, { headers: { Authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { count?: number };
      if (res.status !== 200 || body.count === undefined) throw new Error(`stats answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
      if (i >= 3) times.push(performance.now() - started); // the first ones warm the caches
    }
    const row = { groupBy, p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: Math.max(...times) };
    ctx.log(`stats group_by=${groupBy} on ${STATS_RUNS} runs: p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms`);
    rows.push(row);
  }
  return rows;
}

async function bulkCancel(ctx: Ctx, db: Client): Promise<BulkBenchResults['bulk']> {
  const { organizationId, flowId, token } = await organizationWithFlow(ctx, db, 10);
  ctx.log(`bulk: inserting ${BULK_RUNS.toLocaleString('en')} queued runs`);
  await insertRuns(db, organizationId, flowId, BULK_RUNS, 'queued');
  await db.query(`ANALYZE flow_executions`);

  // GET traffic on the seeded data, another organization's.
  const readToken = await new SignJWT({ org_id: ctx.fixture.organizationId, role: 'org_admin' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench-bulk-reader')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(ctx.jwtSecret));
  const ids: string[] = (
    await db.query(`SELECT id FROM flow_executions WHERE flow_id = $1 AND status <> 'deleted' ORDER BY created_at DESC LIMIT 1000`, [ctx.fixture.smallFlowId])
  ).rows.map((r: { id: string }) => r.id);
  const traffic = (until: () => boolean) => getTraffic(ctx.url, readToken, ids, until);

  const baselineEnd = Date.now() + BASELINE_MS;
  const before = await traffic(() => Date.now() >= baselineEnd);

  let done = false;
  const during = traffic(() => done);
  const created = await fetch(`${ctx.url}/api/bulk-actions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ action: 'cancel', selection: { flow_id: flowId } }),
  });
  const action = (await created.json()) as { id: string; matched: number };
  if (created.status !== 202) throw new Error(`bulk action answered ${created.status}: ${JSON.stringify(action).slice(0, 300)}`);
  type Progress = { status: string; created_at: string; finished_at: string | null; succeeded: number };
  let finished: Progress | null = null;
  while (!finished) {
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`${ctx.url}/api/bulk-actions/${action.id}`, { headers: { Authorization: `Bearer ${token}` } });
    const body = (await res.json()) as Progress;
    if (body.finished_at) finished = body;
  }
  done = true;
  const whileBusy = await during;
  const seconds = (Date.parse(finished.finished_at!) - Date.parse(finished.created_at)) / 1000;
  const result = {
    runs: finished.succeeded,
    seconds,
    runsPerSecond: finished.succeeded / seconds,
    getP99Before: quantile(before, 0.99),
    getP99During: quantile(whileBusy, 0.99),
    getRequestsDuring: whileBusy.length,
  };
  ctx.log(
    `bulk cancel of ${result.runs} runs: ${result.runsPerSecond.toFixed(0)} runs/s (${seconds.toFixed(1)} s); ` +
      `GET p99 ${result.getP99Before.toFixed(1)} ms before, ${result.getP99During.toFixed(1)} ms during (${GET_CLIENTS} clients)`,
  );
  return result;
}

/** GET_CLIENTS clients reading runs by id, back to back, until `until()`; answers the latencies in ms. */
async function getTraffic(url: string, token: string, ids: string[], until: () => boolean): Promise<number[]> {
  const times: number[] = [];
  let n = 0;
  await Promise.all(
    Array.from({ length: GET_CLIENTS }, async () => {
      while (!until()) {
        const id = ids[n++ % ids.length];
        const started = performance.now();
        const res = await fetch(`${url}/api/flow-executions/${id}`, { headers: { Authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`GET answered ${res.status}`);
        times.push(performance.now() - started);
      }
    }),
  );
  return times;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

export function bulkMarkdown(r: BulkBenchResults): string {
  const lines: string[] = [];
  if (r.stats) {
    lines.push(`Run statistics on a flow of ${STATS_RUNS.toLocaleString('en')} runs, ${STATS_REQUESTS} requests each, one at a time:`, '');
    lines.push('| group_by | p50 ms | p99 ms | max ms |', '| --- | ---: | ---: | ---: |');
    for (const s of r.stats) lines.push(`| ${s.groupBy} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.max.toFixed(1)} |`);
    lines.push('');
  }
  if (r.bulk) {
    const b = r.bulk;
    lines.push(
      `Bulk cancel of ${b.runs.toLocaleString('en')} queued runs beside ${GET_CLIENTS} clients reading runs by id: ${b.runsPerSecond.toFixed(0)} runs/s ` +
        `(${b.seconds.toFixed(1)} s); GET p99 ${b.getP99Before.toFixed(1)} ms before, ${b.getP99During.toFixed(1)} ms during ` +
        `(${(b.getP99During / b.getP99Before).toFixed(2)}x, ${b.getRequestsDuring} requests).`,
      '',
    );
  }
  return lines.join('\n');
}
