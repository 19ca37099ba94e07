import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { FlowExecutionsRepository } from '../src/flow-executions/flow-executions.repository';
import { loadavg } from 'node:os';
import { assertRunning, BenchContext, suite } from './context';
import type { LoadRequest } from './load';
import type { Measurement } from './report';
import type { Scenario } from './scenarios';
import { BenchDatabase, DEFINITION } from './seed';

/** `--only writes`: the writes side by side with GET by id, and the floor of any write, in one run. */
export const WRITES = 'writes';

type Measured = Omit<Measurement, 'round'>;

export interface WritesContext {
  database: BenchDatabase;
  appUrl: string;
  jwtSecret: string;
  /** The bench's org_admin bearer header. */
  auth: Record<string, string>;
  getById: Scenario;
  connections: number[];
  rounds: number;
  /** One warm-up and measured run of `s` at `connections` on the app. */
  measure: (s: Scenario, connections: number) => Promise<Measured>;
  log: (message: string) => void;
}

export interface WritesResult {
  rows: {
    scenario: string;
    connections: number;
    requestsPerSecond: number;
    p50: number | null;
    p99: number | null;
    /** The server process's CPU time per response (user + system), the application's share of a request. */
    cpuMsPerRequest: number | null;
    errors: number;
  }[];
  /**
   * The floor at 1 connection, back to back, and paced: with PACE_MS of work in this process between
   * two statements, as a request's own work comes between them, so the backend idles in between.
   */
  floor: { insertP50: number; startP50: number; insertPacedP50: number; startPacedP50: number };
  ratios: { name: string; value: number | null; target: string; ok: boolean | null }[];
}

const BASE = '/api/flow-executions';
const SPREAD_ORGANIZATIONS = 8;
// Enough running runs that no PATCH of a measured run (warm-up included) finds its run already moved.
const PATCH_POOL = 25_000;
const FLOOR_SAMPLES = 400;
/** Work between two paced floor statements: about what the server does for a GET beside its query. */
const PACE_MS = 0.5;
/** Each spread organization's concurrency limit, the most the API allows: its creates run, none queues. */
const SPREAD_LIMIT = 100_000;

const CREATE_INPUT = {
  file_key: 'uploads/2025/06/01/5f4dcc3b5aa765d61d8327deb882cf99.pdf',
  customer_id: 'cus_1a2b3c4d5e6f7a',
  source: 'api',
  priority: 'normal',
  metadata: { pages: 3, sender: 'ap-42@example.com', language: 'en' },
};

/**
 * GET by id, a create, a task report (`POST .../task-status`, one status) and a PATCH status
 * (running → completed, each request on a run of its own) at every connection count, round by
 * round; creates spread over 8 organizations at the highest count; then the floor at 1 connection:
 * a committed single-row INSERT, and `start_flow_execution()` called alone (the create's statement).
 */
export async function benchWrites(ctx: WritesContext): Promise<WritesResult> {
  const { database, log } = ctx;
  const { fixture } = database;
  const sign = (organizationId: string, role: string, subject: string) =>
    new SignJWT({ org_id: organizationId, role })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject)
      .setExpirationTime('24h')
      .sign(new TextEncoder().encode(ctx.jwtSecret));
  // Reports and PATCH are a worker's; backoffice holds both permissions.
  const worker = { Authorization: `Bearer ${await sign(fixture.organizationId, 'backoffice', 'bench-worker')}` };

  const db = new Client({ connectionString: database.url });
  await db.connect();
  try {
    const { rows: reportable } = await db.query(`SELECT id FROM flow_executions WHERE flow_id = $1 AND status <> 'deleted' ORDER BY run_number LIMIT 1000`, [
      fixture.postFlowId,
    ]);
    const spread = await spreadOrganizations(ctx, sign);
    const create: Scenario = {
      key: 'create',
      name: 'create (one organization, one flow)',
      method: 'POST',
      requests: [{ path: BASE }],
      body: JSON.stringify({ flow_id: fixture.postFlowId, input: CREATE_INPUT }),
      expect: 201,
      ceiling: false,
    };
    const report: Scenario = {
      key: 'report',
      name: 'POST .../task-status, one status',
      method: 'POST',
      credentials: worker,
      requests: reportable.map((r) => ({ path: `${BASE}/${r.id}/task-status` })),
      body: JSON.stringify({ statuses: [{ task_name: 'receive', status: 'running' }] }),
      expect: 200,
      ceiling: false,
    };
    const patch = (ids: string[]): Scenario => ({
      key: 'patch',
      name: 'PATCH status running → completed',
      method: 'POST',
      credentials: worker,
      requests: ids.map((id): LoadRequest => ({ path: `${BASE}/${id}/status?status=completed`, method: 'PATCH' })),
      expect: 200,
      ceiling: false,
    });
    const createSpread: Scenario = {
      key: 'create-8-orgs',
      name: `create, spread over ${SPREAD_ORGANIZATIONS} organizations`,
      method: 'POST',
      requests: spread.map((s) => ({
        path: BASE,
        headers: { Authorization: s.authorization },
        body: JSON.stringify({ flow_id: s.flowId, input: CREATE_INPUT }),
      })),
      expect: 201,
      ceiling: false,
    };

    const all: (Measured & { round: number })[] = [];
    const top = Math.max(...ctx.connections);
    for (let round = 1; round <= ctx.rounds; round++) {
      for (const connections of ctx.connections) {
        for (const s of [ctx.getById, create, report, 'patch' as const, ...(connections === top ? [createSpread] : [])]) {
          const scenario = s === 'patch' ? patch(await runningRuns(db, fixture.postFlowId, PATCH_POOL)) : s;
          await vacuumHotRows(db);
          const m = await ctx.measure(scenario, connections);
          all.push({ ...m, round });
          log(
            `writes round ${round}/${ctx.rounds} ${scenario.key} c=${connections}: ${m.requestsPerSecond.toFixed(0)} req/s p50 ${ms(m.p50)} p99 ${ms(m.p99)}` +
              (m.errors ? ` ERRORS ${m.errors} ${JSON.stringify(m.statusCodes)}` : ''),
          );
        }
      }
    }
    await db.query(`UPDATE flow_executions SET status = 'completed' WHERE flow_id = $1 AND status = 'running' AND run_number > $2`, [
      fixture.postFlowId,
      fixture.perSmallFlow,
    ]);

    log(`writes: the floor, ${FLOOR_SAMPLES} samples each at 1 connection`);
    await vacuumHotRows(db);
    const floor = await measureFloor(database.url, fixture.organizationId, fixture.postFlowId);

    const keys = [...new Set(all.map((m) => `${m.scenario}@${m.connections}`))];
    const rows = keys.map((key) => {
      const runs = all.filter((m) => `${m.scenario}@${m.connections}` === key);
      return {
        scenario: runs[0].scenario,
        connections: runs[0].connections,
        requestsPerSecond: median(runs.map((m) => m.requestsPerSecond))!,
        p50: median(runs.map((m) => m.p50)),
        p99: median(runs.map((m) => m.p99)),
        cpuMsPerRequest: median(runs.map((m) => m.cpuMsPerRequest)),
        errors: runs.reduce((n, m) => n + m.errors, 0),
      };
    });
    const row = (scenario: string, connections: number) => rows.find((r) => r.scenario === scenario && r.connections === connections);
    const low = Math.min(...ctx.connections);
    const getLow = row('get', low)?.p50 ?? null;
    const budget = getLow === null ? null : getLow + floor.insertP50;
    const latency = (scenario: string) => {
      const p50 = row(scenario, low)?.p50 ?? null;
      return p50 === null || budget === null ? null : p50 / budget;
    };
    const throughput = (scenario: string) => {
      const a = row(scenario, top)?.requestsPerSecond;
      const b = row('get', top)?.requestsPerSecond;
      return a && b ? a / b : null;
    };
    const check = (name: string, value: number | null, target: string, ok: (v: number) => boolean) => ({
      name,
      value,
      target,
      ok: value === null ? null : ok(value),
    });
    const ratios = [
      check(`create p50 c=${low} ÷ (GET p50 + INSERT floor)`, latency('create'), '≤ 1.3', (v) => v <= 1.3),
      check(`report p50 c=${low} ÷ (GET p50 + INSERT floor)`, latency('report'), '≤ 1.3', (v) => v <= 1.3),
      check(`PATCH p50 c=${low} ÷ (GET p50 + INSERT floor)`, latency('patch'), '–', () => true),
      check(`report req/s c=${top} ÷ GET`, throughput('report'), '≥ 0.7', (v) => v >= 0.7),
      check(`create req/s c=${top} ÷ GET (one organization)`, throughput('create'), '≥ 0.5', (v) => v >= 0.5),
      check(`create req/s c=${top} ÷ GET (${SPREAD_ORGANIZATIONS} organizations)`, throughput('create-8-orgs'), '–', () => true),
      check(`PATCH req/s c=${top} ÷ GET`, throughput('patch'), '–', () => true),
    ];
    return { rows, floor, ratios };
  } finally {
    await db.end();
  }
}

export function writesMarkdown(result: WritesResult, load: string): string {
  const lines = [
    `Writes (medians over rounds; load average ${load}):`,
    '',
    '| scenario | connections | req/s | p50 ms | p99 ms | app CPU ms/req | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...result.rows.map(
      (r) => `| ${r.scenario} | ${r.connections} | ${r.requestsPerSecond.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.cpuMsPerRequest)} | ${r.errors} |`,
    ),
    '',
    `Floor at 1 connection: committed single-row INSERT p50 ${ms(result.floor.insertP50)} ms; start_flow_execution() alone p50 ${ms(result.floor.startP50)} ms. ` +
      `Paced (${PACE_MS} ms of work in the process before each, as a request's own work comes between its statements): ` +
      `INSERT p50 ${ms(result.floor.insertPacedP50)} ms, start_flow_execution() p50 ${ms(result.floor.startPacedP50)} ms.`,
    '',
    '| ratio | value | target |',
    '| --- | ---: | --- |',
    ...result.ratios.map((r) => `| ${r.name} | ${r.value === null ? '–' : r.value.toFixed(2)} | ${r.target}${r.ok === false ? ' (missed)' : ''} |`),
  ];
  return lines.join('\n');
}

/** Organizations of their own, each with a flow like the post flow, and an org_admin token each. */
async function spreadOrganizations(
  ctx: WritesContext,
  sign: (organizationId: string, role: string, subject: string) => Promise<string>,
): Promise<{ authorization: string; flowId: string }[]> {
  return Promise.all(
    Array.from({ length: SPREAD_ORGANIZATIONS }, async (_, i) => {
      const authorization = `Bearer ${await sign(randomUUID(), 'org_admin', `bench-spread-${i}`)}`;
      const res = await fetch(`${ctx.appUrl}/api/flows`, {
        method: 'POST',
        headers: { Authorization: authorization, 'Content-Type': 'application/json' },
        body: JSON.stringify({ display_name: `bench spread ${i}`, definition: DEFINITION }),
      });
      if (res.status !== 201) throw new Error(`POST /api/flows answered ${res.status}: ${await res.text()}`);
      // A limit high enough that its creates run rather than queue, as the bench organization's (bench/seed.ts).
      const settings = await fetch(`${ctx.appUrl}/api/organizations/settings`, {
        method: 'PUT',
        headers: { Authorization: authorization, 'Content-Type': 'application/json' },
        body: JSON.stringify({ max_concurrent_executions: SPREAD_LIMIT }),
      });
      if (settings.status !== 200) throw new Error(`PUT /api/organizations/settings answered ${settings.status}: ${await settings.text()}`);
      return { authorization, flowId: ((await res.json()) as { id: string }).id };
    }),
  );
}

/** `count` new running runs of the flow (PATCH moves each once), inserted as the seed does. */
async function runningRuns(db: Client, flowId: string, count: number): Promise<string[]> {
  const { rows } = await db.query(
    `WITH f AS (
       UPDATE flows SET executions_count = executions_count + $2, last_execution_at = clock_timestamp()
        WHERE id = $1 RETURNING organization_id, latest_version, executions_count - $2 AS base
     )
     INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, input_task_name, modified_by, created_at, updated_at)
     SELECT f.organization_id, $1, f.latest_version, 'running', '{}', f.base + g, 'receive', 'bench', clock_timestamp(), clock_timestamp()
       FROM f, generate_series(1, $2) g
     RETURNING id`,
    [flowId, count],
  );
  return rows.map((r) => r.id as string);
}

/**
 * Every write updates its organization's row (the slots in use) and a create its flow's (the run
 * count): a few rows updated thousands of times a second. Autovacuum keeps them small; where it is off
 * (this bench's machines), a round leaves each a chain of hundreds of thousands of dead versions that
 * every later write walks (start_flow_execution() alone went from 0.5 to 1.2 ms). Vacuumed before
 * each measured run, as autovacuum would have.
 */
async function vacuumHotRows(db: Client): Promise<void> {
  await db.query('VACUUM organizations, flows');
}

/** The floor of any write, one connection, sequential: a committed single-row INSERT, and the create's SQL function alone. */
async function measureFloor(url: string, organizationId: string, flowId: string): Promise<WritesResult['floor']> {
  // Two connections: each create's change notification, sent after it and not awaited, does not hold up the next create.
  const dataSource = await new DataSource({ ...buildDataSourceOptions(url, { poolSize: 2 }), entities: [] }).initialize();
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS bench_write_floor (id bigserial PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    const body = JSON.stringify(CREATE_INPUT);
    const insertOne = () => client.query({ name: 'bench_floor_insert', text: `INSERT INTO bench_write_floor (body) VALUES ($1)`, values: [body] });
    const insert = await timed(insertOne, 0);
    const insertPaced = await timed(insertOne, PACE_MS);
    await client.query(`TRUNCATE bench_write_floor`);

    const executions = new FlowExecutionsRepository(dataSource);
    const { rows } = await client.query(`SELECT latest_version FROM flows WHERE id = $1`, [flowId]);
    const startOne = () =>
      executions.start(
        {
          organizationId,
          flowId,
          flowVersion: rows[0].latest_version as number,
          input: CREATE_INPUT,
          inputTaskName: 'receive',
          triggeredTaskExecutorName: null,
          modifiedBy: 'bench',
          trace: null,
        },
        1_000_000,
      );
    const start = await timed(startOne, 0);
    const startPaced = await timed(startOne, PACE_MS);
    return { insertP50: median(insert)!, startP50: median(start)!, insertPacedP50: median(insertPaced)!, startPacedP50: median(startPaced)! };
  } finally {
    await client.end();
    await dataSource.destroy();
  }
}

/** FLOOR_SAMPLES timings of `statement`, one after another, with `paceMs` of busy work before each. */
async function timed(statement: () => Promise<unknown>, paceMs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < FLOOR_SAMPLES; i++) {
    const until = performance.now() + paceMs;
    while (performance.now() < until); // busy, as a request's own work is: the process does not sleep
    const started = performance.now();
    await statement();
    times.push(performance.now() - started);
  }
  return times;
}

function median(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : null;
}

const ms = (value: number | null) => (value === null ? '–' : value.toFixed(2));

/** `--only writes`. */
export const writesSuite = suite({
  name: WRITES,
  run: async (ctx: BenchContext) => {
    const result = await benchWrites({
      database: ctx.database,
      appUrl: ctx.app.url,
      jwtSecret: ctx.jwtSecret,
      auth: ctx.auth,
      getById: ctx.scenarios.find((s) => s.key === 'get')!,
      connections: ctx.options.connections,
      rounds: ctx.options.rounds,
      measure: (s, connections) => ctx.measure(ctx.app, s, connections),
      log: ctx.log,
    });
    assertRunning(ctx.app);
    return result;
  },
  markdown: (result: WritesResult) =>
    writesMarkdown(
      result,
      loadavg()
        .map((l) => l.toFixed(2))
        .join(', '),
    ),
});
