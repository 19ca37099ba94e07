import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import { loadConfig } from '../src/config/app-config';
import { assertRunning, BenchContext, suite } from './context';
import type { Scenario } from './scenarios';

/** Runs made due at once for the delay measurement. */
export const DUE_RUNS = 10_000;
/** Running tasks the heartbeats rotate over. */
const HEARTBEAT_TASKS = 256;

export interface LivenessResults {
  /** Heartbeats and GET by id at 32 connections, req/s of each round, and the ratio of the medians. */
  heartbeatRps: number[];
  getRps: number[];
  ratio: number;
  heartbeatP50: number | null;
  heartbeatP99: number | null;
  errors: number;
  /** From due time to transition, over `runs` runs due at the same instant. */
  due: { runs: number; p50Ms: number; p99Ms: number; maxMs: number; sweepIntervalMs: number };
}

interface Measured {
  requestsPerSecond: number;
  p50: number | null;
  p99: number | null;
  errors: number;
}

/**
 * Liveness: heartbeats per second at 32 connections beside GET by id, measured back to back in each
 * round, then the delay from due time to transition of 10,000 runs falling due at the same instant
 * (one organization, the worst case: its runs time out one transaction after another). Each part
 * works in an organization of its own, removed afterwards.
 */
export async function benchLiveness(ctx: {
  url: string;
  databaseUrl: string;
  jwtSecret: string;
  rounds: number;
  sweepIntervalMs: number;
  getById: Scenario;
  measure: (s: Scenario, connections: number) => Promise<Measured>;
  log: (message: string) => void;
}): Promise<LivenessResults> {
  const { log } = ctx;
  const db = new Client({ connectionString: ctx.databaseUrl });
  await db.connect();
  const organizations: string[] = [];
  try {
    log(`liveness: ${HEARTBEAT_TASKS} running tasks for heartbeats`);
    organizations.push(randomUUID(), randomUUID());
    const beating = await organization(ctx, organizations[0]);
    const flowId = await beating.flow({ task_heartbeat_seconds: 3600 });
    const taskIds: string[] = [];
    for (let i = 0; i < HEARTBEAT_TASKS; i++) {
      const run = await beating.call('POST', '/api/flow-executions', { flow_id: flowId, input: {} });
      const body = { flow_execution_id: run.id, task_name: 'work', task_execution_idx: 0, processing_status: 'running' };
      taskIds.push((await beating.call('POST', '/api/task-executions', body, 'worker')).id);
    }
    const details = JSON.stringify({ details: { step: 1, of: 10, note: 'bench' } });
    const heartbeat: Scenario = {
      key: 'heartbeat',
      name: 'POST heartbeat',
      method: 'POST',
      requests: taskIds.map((id) => ({ path: `/api/task-executions/${id}/heartbeat`, method: 'POST', body: details })),
      body: details,
      expect: 200,
      ceiling: false,
      credentials: { Authorization: `Bearer ${beating.tokens.worker}` },
    };
    const heartbeatRuns: Measured[] = [];
    const getRps: number[] = [];
    for (let round = 1; round <= ctx.rounds; round++) {
      // Who goes first alternates by round.
      const pair = round % 2 ? [heartbeat, ctx.getById] : [ctx.getById, heartbeat];
      for (const s of pair) {
        const m = await ctx.measure(s, 32);
        if (s === heartbeat) heartbeatRuns.push(m);
        else getRps.push(m.requestsPerSecond);
        log(
          `liveness: round ${round} ${s.key} c=32 ${m.requestsPerSecond.toFixed(0)} req/s p50 ${m.p50?.toFixed(2)} p99 ${m.p99?.toFixed(2)}${m.errors ? ` ERRORS ${m.errors}` : ''}`,
        );
      }
    }
    const heartbeatRps = heartbeatRuns.map((m) => m.requestsPerSecond);

    log(`liveness: ${DUE_RUNS} runs falling due at once`);
    const due = await organization(ctx, organizations[1]);
    const dueFlow = await due.flow({ execution_seconds: 3600 });
    await due.call('PUT', '/api/organizations/settings', { max_concurrent_executions: DUE_RUNS * 2 });
    await db.query(
      `SELECT count(*) FROM generate_series(1, $3::int) g, LATERAL start_flow_execution($1, $2, 1, jsonb_build_object('n', g), NULL, NULL, 'bench', 10) fe`,
      [due.id, dueFlow, DUE_RUNS],
    );
    // The due time moved, not waited for: every run falls due 2 s from now (the trigger sets it on status changes only).
    const { rows } = await db.query<{ due: Date; n: number }>(
      `WITH moved AS (
         UPDATE flow_executions SET timeout_at = date_trunc('milliseconds', now()) + interval '2 seconds'
          WHERE flow_id = $1 AND status = 'running' RETURNING timeout_at
       ) SELECT max(timeout_at) AS due, count(*)::int AS n FROM moved`,
      [dueFlow],
    );
    const dueAt = rows[0].due;
    const deadline = Date.now() + 600_000;
    for (;;) {
      const left = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM flow_executions WHERE flow_id = $1 AND status = 'running'`, [dueFlow]))
        .rows[0].n;
      if (left === 0) break;
      if (Date.now() > deadline) throw new Error(`liveness: ${left} runs still running 10 min after their due time`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const delays = (
      await db.query<{ ms: number }>(
        `SELECT extract(epoch FROM terminal_at - $2::timestamptz) * 1000 AS ms FROM flow_executions WHERE flow_id = $1 ORDER BY 1`,
        [dueFlow, dueAt],
      )
    ).rows.map((r) => Number(r.ms));
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))];
    const result: LivenessResults = {
      heartbeatRps,
      getRps,
      ratio: median(heartbeatRps) / median(getRps),
      heartbeatP50: median(heartbeatRuns.map((m) => m.p50 ?? 0)),
      heartbeatP99: median(heartbeatRuns.map((m) => m.p99 ?? 0)),
      errors: heartbeatRuns.reduce((n, m) => n + m.errors, 0),
      due: { runs: rows[0].n, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: delays[delays.length - 1], sweepIntervalMs: ctx.sweepIntervalMs },
    };
    log(
      `liveness: heartbeat ${median(heartbeatRps).toFixed(0)} req/s vs GET by id ${median(getRps).toFixed(0)} req/s (×${result.ratio.toFixed(2)}); ` +
        `due → transition p50 ${result.due.p50Ms.toFixed(0)} ms, p99 ${result.due.p99Ms.toFixed(0)} ms, max ${result.due.maxMs.toFixed(0)} ms over ${result.due.runs} runs`,
    );
    return result;
  } finally {
    for (const id of organizations) await removeOrganization(db, id).catch((err: Error) => log(`liveness: cleanup of ${id} failed: ${err.message}`));
    await db.end();
  }
}

export function livenessMarkdown(r: LivenessResults): string[] {
  const rps = (list: number[]) => list.map((n) => n.toFixed(0)).join(', ');
  return [
    '### Liveness',
    '',
    '| measure | value |',
    '| --- | --- |',
    `| heartbeats, 32 connections (req/s per round) | ${rps(r.heartbeatRps)} |`,
    `| GET by id, 32 connections, same rounds (req/s) | ${rps(r.getRps)} |`,
    `| heartbeat ÷ GET by id (medians) | ×${r.ratio.toFixed(2)} |`,
    `| heartbeat latency p50 / p99 (ms) | ${r.heartbeatP50?.toFixed(2)} / ${r.heartbeatP99?.toFixed(2)} |`,
    `| due → transition, ${r.due.runs.toLocaleString('en')} runs due at once, p50 / p99 / max (ms) | ${r.due.p50Ms.toFixed(0)} / ${r.due.p99Ms.toFixed(0)} / ${r.due.maxMs.toFixed(0)} |`,
    `| sweep interval (ms) | ${r.due.sweepIntervalMs} |`,
    '',
  ];
}

/** A fresh organization with tokens and a one-task flow with the given timeouts. */
async function organization(ctx: { url: string; jwtSecret: string }, id: string) {
  const key = new TextEncoder().encode(ctx.jwtSecret);
  const token = (role: string) =>
    new SignJWT({ org_id: id, role }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench-liveness').setExpirationTime('24h').sign(key);
  const tokens = { org_admin: await token('org_admin'), worker: await token('worker') };
  const call = async (method: string, path: string, body?: unknown, role: keyof typeof tokens = 'org_admin') => {
    const res = await fetch(`${ctx.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${tokens[role]}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`liveness: ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  await call('PUT', '/api/organizations/settings', { max_concurrent_executions: 1000 });
  const flow = async (timeouts: Record<string, number>): Promise<string> => {
    const definition = {
      flow: { author_uuid: '', created_at: '' },
      flow_configs: [
        {
          config: { groups: [], notes: [], tasks: [{ name: 'work', task_executor_name: 'receive_file', task_title: 'work', parameters: {} }] },
          meta: { name: 'liveness', description: '' },
        },
      ],
    };
    return (await call('POST', '/api/flows', { display_name: 'bench liveness', definition, settings: { timeouts } })).id;
  };
  return { id, tokens, call, flow };
}

/** The organization's runs, tasks and events go (its flows stay, soft-deleted): the bench database is reused. */
async function removeOrganization(db: Client, id: string): Promise<void> {
  await db.query('BEGIN');
  try {
    for (const table of ['task_executions', 'flow_task_statuses', 'flow_events', 'flow_executions']) {
      await db.query(`DELETE FROM ${table} WHERE organization_id = $1`, [id]);
    }
    await db.query(`UPDATE flows SET deleted = true WHERE organization_id = $1`, [id]);
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : 0;
}

/** `--only liveness`. */
export const livenessSuite = suite({
  name: 'liveness',
  run: async (ctx: BenchContext) => {
    const result = await benchLiveness({
      url: ctx.app.url,
      databaseUrl: ctx.database.url,
      jwtSecret: ctx.jwtSecret,
      rounds: ctx.options.rounds,
      sweepIntervalMs: loadConfig({ ...process.env, JWT_SECRET: ctx.jwtSecret }).livenessSweepIntervalMs,
      getById: ctx.scenarios.find((s) => s.key === 'get')!,
      measure: (s, connections) => ctx.measure(ctx.app, s, connections),
      log: ctx.log,
    });
    assertRunning(ctx.app);
    return result;
  },
  markdown: (result: LivenessResults) => livenessMarkdown(result).join('\n'),
});
