import { SignJWT } from 'jose';
import { assertRunning, BenchContext, ms, suite } from './context';
import { startLoadGenerator, stopChild } from './processes';
import { median } from './report';
import { ensureNeighbour } from './seed';

/**
 * `--only noisy`: one organization reads heavy list pages (1,000 executions, 1,000 task
 * executions, 100 flows) at 32 connections while another reads executions by id at a steady
 * 40 req/s over 4 connections. The neighbour's p99 alone and under the flood, on a server with the
 * defaults (fair admission on) and on one with admission off; and the event-loop delay p99 during
 * each phase, read from the server's /metrics (`nodejs_eventloop_lag_p99_seconds`: prom-client's
 * monitorEventLoopDelay, reset at every scrape, so a scrape before the phase and one after it give
 * the phase's own figure).
 */

export const NOISY = 'noisy';
export const NOISY_NEIGHBOUR_RATE = 40;
export const NOISY_NEIGHBOUR_CONNECTIONS = 4;
export const NOISY_FLOOD_CONNECTIONS = 32;

export interface NoisyPhase {
  phase: string;
  p50: number | null;
  p99: number | null;
  /** Event-loop delay p99 over the phase, ms (from /metrics); null when /metrics could not be read. */
  loopP99: number | null;
  neighbourErrors: number;
  floodStatuses: Record<string, number> | null;
}

export interface NoisyResult {
  phases: NoisyPhase[];
}

export const PHASES = ['alone', 'flood', 'flood, admission off'] as const;

async function benchNoisy(ctx: BenchContext): Promise<NoisyResult> {
  const { database, load, log, options } = ctx;
  const neighbour = await ensureNeighbour(database.url, database.fixture);
  const token = await new SignJWT({ org_id: neighbour.organizationId, role: 'app_user' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench-neighbour')
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(ctx.jwtSecret));
  const { fixture } = database;
  const floodRequests = [
    { path: `/api/flow-executions?flow_id=${fixture.hotFlowId}&page_size=1000` },
    { path: '/api/task-executions?limit=1000' },
    { path: '/api/flows?page_size=100' },
  ];
  const reads = neighbour.executionIds.map((id) => ({ path: `/api/flow-executions/${id}` }));
  const neighbourCommand = (url: string, seconds: number) => ({
    url,
    connections: NOISY_NEIGHBOUR_CONNECTIONS,
    seconds,
    method: 'GET' as const,
    headers: { Authorization: `Bearer ${token}` },
    requests: reads,
    rate: NOISY_NEIGHBOUR_RATE,
  });
  const off = await ctx.startApp('app-admission-off', { ADMISSION_CONCURRENCY: '0' });
  const flood = startLoadGenerator();

  const run = async (phase: string, url: string, withFlood: boolean): Promise<NoisyPhase> => {
    const flooding = withFlood
      ? flood({
          url,
          connections: NOISY_FLOOD_CONNECTIONS,
          seconds: options.warmup + options.duration + 1,
          method: 'GET',
          headers: ctx.auth,
          requests: floodRequests,
        })
      : null;
    if (options.warmup > 0) await load(neighbourCommand(url, options.warmup));
    await loopP99(url); // resets the histogram: what the next scrape reads is this phase's
    const measured = await load(neighbourCommand(url, options.duration));
    const loop = await loopP99(url);
    const floodResult = await flooding;
    const neighbourErrors = Object.entries(measured.statusCodes).reduce((n, [code, count]) => n + (code === '200' ? 0 : count), 0);
    log(
      `noisy ${phase}: neighbour p50 ${ms(measured.p50)} p99 ${ms(measured.p99)} ms (${measured.responses} responses, ${neighbourErrors} not 200), ` +
        `event-loop delay p99 ${ms(loop)} ms` +
        (floodResult ? `; flood ${JSON.stringify(floodResult.statusCodes)}` : ''),
    );
    return { phase, p50: measured.p50, p99: measured.p99, loopP99: loop, neighbourErrors, floodStatuses: floodResult?.statusCodes ?? null };
  };
  const phases: NoisyPhase[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      phases.push(await run('alone', ctx.app.url, false));
      phases.push(await run('flood', ctx.app.url, true));
      phases.push(await run('flood, admission off', off.url, true));
    }
  } finally {
    await off.stop();
    await stopChild(flood.child);
  }
  return { phases };
}

/** `nodejs_eventloop_lag_p99_seconds` from the server's /metrics, in ms. */
async function loopP99(url: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const match = /^nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
    return match ? Number(match[1]) * 1000 : null;
  } catch {
    return null;
  }
}

function noisyMarkdown(noisy: NoisyResult, rounds: number): string {
  const byPhase = (phase: string) => noisy.phases.filter((p) => p.phase === phase);
  const alone = median(byPhase('alone').map((p) => p.p99));
  const lines = [
    `Noisy neighbour: one organization reads heavy list pages (1,000 executions, 1,000 task executions, 100 flows) at ${NOISY_FLOOD_CONNECTIONS} connections; ` +
      `another reads executions by id at ${NOISY_NEIGHBOUR_RATE} req/s over ${NOISY_NEIGHBOUR_CONNECTIONS} connections. ` +
      `"flood": the defaults; "admission off": ADMISSION_CONCURRENCY=0. Event-loop delay: nodejs_eventloop_lag_p99_seconds over the phase. ` +
      `Medians of ${rounds} rounds, the phases back to back in each.`,
    '',
    '| phase | neighbour p50 ms | neighbour p99 ms | p99 ÷ alone | event-loop delay p99 ms | neighbour errors | flood responses by status |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const phase of PHASES) {
    const runs = byPhase(phase);
    const p99 = median(runs.map((p) => p.p99));
    const statuses: Record<string, number> = {};
    for (const r of runs) for (const [code, n] of Object.entries(r.floodStatuses ?? {})) statuses[code] = (statuses[code] ?? 0) + n;
    const shown = Object.entries(statuses)
      .map(([c, n]) => `${c}: ${n}`)
      .join(', ');
    lines.push(
      `| ${phase} | ${ms(median(runs.map((p) => p.p50)))} | ${ms(p99)} | ${p99 !== null && alone ? (p99 / alone).toFixed(2) : '–'} | ` +
        `${ms(median(runs.map((p) => p.loopP99)))} | ${runs.reduce((n, r) => n + r.neighbourErrors, 0)} | ${shown || '–'} |`,
    );
  }
  return lines.join('\n');
}

/** `--only noisy`. */
export const noisySuite = suite({
  name: NOISY,
  run: async (ctx: BenchContext) => {
    const result = await benchNoisy(ctx);
    assertRunning(ctx.app);
    return result;
  },
  markdown: (result: NoisyResult, ctx: BenchContext) => noisyMarkdown(result, ctx.options.rounds),
});
