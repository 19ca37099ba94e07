import { SignJWT } from 'jose';
import { assertRunning, BenchContext, BenchServer, ms, suite } from './context';
import { runQueueWaitMs } from './machine';
import { cpuMs, cpuMsBetween, cpuMsOfProcessesNamed, startLoadGenerator, startLoopProbe, stopChild } from './processes';
import { median } from './report';
import { ensureNeighbour } from './seed';

/**
 * `--only noisy`: one organization reads heavy list pages (1,000 executions, 1,000 task
 * executions, 100 flows) at 32 connections while another reads executions by id at a steady
 * 40 req/s over 4 connections. The neighbour's p99 alone and under the flood, on a server with the
 * defaults (fair admission on) and on one with admission off. Then a flood of pages of flows
 * alone, which the database serves fast enough to keep the event loop saturated: on the defaults,
 * and with the organizations' budget fixed (`ADMISSION_LOOP_UTILIZATION=0`). And the event-loop
 * delay p99 during each phase, read from the server's /metrics (`nodejs_eventloop_lag_p99_seconds`: prom-client's
 * monitorEventLoopDelay, reset at every scrape, so a scrape before the phase and one after it give
 * the phase's own figure).
 *
 * Two references tell the machine's share from the app's: an idle process measures its own
 * event-loop delay the same way through every phase (loop-probe.ts: what the other processes on
 * the cores do to a loop that has nothing to do), and the neighbour's same reads from the ceiling
 * server (raw-server.ts: no framework, the same SQL), alone and beside the same flood on the app.
 */

export const NOISY = 'noisy';
export const NOISY_NEIGHBOUR_RATE = 40;
export const NOISY_NEIGHBOUR_CONNECTIONS = 4;
export const NOISY_FLOOD_CONNECTIONS = 32;
/**
 * The shortest measured phase, s: 600 reads at 40 req/s, so that a p99 is the sixth worst read. At
 * the default `--duration` (5 s: 200 reads) it was the second worst, and one late read moved a
 * phase's ratio from ×1 to ×2.
 */
export const NOISY_MIN_SECONDS = 15;
const phaseSeconds = (options: BenchContext['options']) => Math.max(options.duration, NOISY_MIN_SECONDS);

export interface NoisyPhase {
  phase: string;
  p50: number | null;
  p99: number | null;
  /** Event-loop delay p99 over the phase, ms (from /metrics); null when /metrics could not be read (the raw server has none). */
  loopP99: number | null;
  /** The idle probe's event-loop delay p99 over the phase, ms. */
  probeP99: number | null;
  /**
   * How long the neighbour's server's event loop waited for a core, ms per second of the phase
   * (runnable, but the machine's cores busy with other processes: the flood's clients, PostgreSQL);
   * null where /proc/<pid>/schedstat cannot be read.
   */
  serverWaitMsPerS: number | null;
  /**
   * Cores used over the phase (CPU seconds per second) by the neighbour's server, by PostgreSQL (its
   * processes on this machine alive at the phase's end: a floor; null where /proc cannot be read)
   * and by the bench's two load generators (the neighbour's and the flood's): who had the cores.
   */
  cores: { server: number; postgres: number | null; load: number };
  neighbourErrors: number;
  floodStatuses: Record<string, number> | null;
}

export interface NoisyResult {
  phases: NoisyPhase[];
}

export const PHASES = [
  'alone',
  'flood',
  'flood, admission off',
  'flows flood',
  'flows flood, budget fixed',
  'raw server alone',
  'raw server beside the flood',
] as const;
/** Each phase's "alone": the app's, or the raw server's for its own reads. */
const REFERENCE: Record<(typeof PHASES)[number], (typeof PHASES)[number]> = {
  alone: 'alone',
  flood: 'alone',
  'flood, admission off': 'alone',
  'flows flood': 'alone',
  'flows flood, budget fixed': 'alone',
  'raw server alone': 'raw server alone',
  'raw server beside the flood': 'raw server alone',
};

async function benchNoisy(ctx: BenchContext): Promise<NoisyResult> {
  const { database, load, log, options } = ctx;
  const neighbour = await ensureNeighbour(database.url, database.fixture);
  const token = await new SignJWT({ org_id: neighbour.organizationId, role: 'app_user' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench-neighbour')
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(ctx.jwtSecret));
  const { fixture } = database;
  const flowsPages = [{ path: '/api/flows?page_size=100' }];
  const mixedPages = [{ path: `/api/flow-executions?flow_id=${fixture.hotFlowId}&page_size=1000` }, { path: '/api/task-executions?limit=1000' }, ...flowsPages];
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
  const seconds = phaseSeconds(options);
  const off = await ctx.startApp('app-admission-off', { ADMISSION_CONCURRENCY: '0' });
  const fixed = await ctx.startApp('app-budget-fixed', { ADMISSION_LOOP_UTILIZATION: '0' });
  const raw = await ctx.startRaw('raw-neighbour', neighbour.organizationId);
  const flood = startLoadGenerator();
  const probe = startLoopProbe();

  /** The neighbour reads from `server` while the flood (if any) reads `floodUrl`. */
  const run = async (phase: (typeof PHASES)[number], server: BenchServer, floodUrl: string | null, floodRequests = mixedPages): Promise<NoisyPhase> => {
    const { url } = server;
    const flooding = floodUrl
      ? flood({
          url: floodUrl,
          connections: NOISY_FLOOD_CONNECTIONS,
          seconds: options.warmup + seconds + 1,
          method: 'GET',
          headers: ctx.auth,
          requests: floodRequests,
        })
      : null;
    if (options.warmup > 0) await load(neighbourCommand(url, options.warmup));
    await Promise.all([loopP99(url), probe.reset()]); // resets the histograms: what the next reads give is this phase's
    const cpu = () => ({
      server: cpuMs(server.child.pid!),
      postgres: cpuMsOfProcessesNamed('postgres'),
      load: cpuMs(load.child.pid!) + cpuMs(flood.child.pid!),
    });
    const waitedBefore = runQueueWaitMs(server.child.pid);
    const cpuBefore = cpu();
    const startedAt = performance.now();
    const measured = await load(neighbourCommand(url, seconds));
    const elapsedMs = performance.now() - startedAt;
    const cpuAfter = cpu();
    const waitedAfter = runQueueWaitMs(server.child.pid);
    const serverWaitMsPerS = waitedBefore !== null && waitedAfter !== null ? (waitedAfter - waitedBefore) / (elapsedMs / 1000) : null;
    const postgresMs = cpuMsBetween(cpuBefore.postgres, cpuAfter.postgres);
    const cores = {
      server: (cpuAfter.server - cpuBefore.server) / elapsedMs,
      postgres: postgresMs === null ? null : postgresMs / elapsedMs,
      load: (cpuAfter.load - cpuBefore.load) / elapsedMs,
    };
    const [loop, probeP99] = await Promise.all([loopP99(url), probe.read()]);
    const floodResult = await flooding;
    const neighbourErrors = Object.entries(measured.statusCodes).reduce((n, [code, count]) => n + (code === '200' ? 0 : count), 0);
    log(
      `noisy ${phase}: neighbour p50 ${ms(measured.p50)} p99 ${ms(measured.p99)} ms (${measured.responses} responses, ${neighbourErrors} not 200), ` +
        `event-loop delay p99 ${ms(loop)} ms, idle probe's ${ms(probeP99)} ms, server waited for a core ${ms(serverWaitMsPerS)} ms/s, ` +
        `cores used: server ${cores.server.toFixed(2)}, PostgreSQL ${cores.postgres?.toFixed(2) ?? '–'}, load generators ${cores.load.toFixed(2)}` +
        (floodResult ? `; flood ${JSON.stringify(floodResult.statusCodes)}` : ''),
    );
    return {
      phase,
      p50: measured.p50,
      p99: measured.p99,
      loopP99: loop,
      probeP99,
      serverWaitMsPerS,
      cores,
      neighbourErrors,
      floodStatuses: floodResult?.statusCodes ?? null,
    };
  };
  const phases: NoisyPhase[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      phases.push(await run('alone', ctx.app, null));
      phases.push(await run('flood', ctx.app, ctx.app.url));
      phases.push(await run('flood, admission off', off, off.url));
      phases.push(await run('flows flood', ctx.app, ctx.app.url, flowsPages));
      phases.push(await run('flows flood, budget fixed', fixed, fixed.url, flowsPages));
      phases.push(await run('raw server alone', raw, null));
      phases.push(await run('raw server beside the flood', raw, ctx.app.url));
    }
  } finally {
    await Promise.all([off.stop(), fixed.stop(), raw.stop(), stopChild(flood.child), stopChild(probe.child)]);
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

function noisyMarkdown(noisy: NoisyResult, rounds: number, seconds: number): string {
  const byPhase = (phase: string) => noisy.phases.filter((p) => p.phase === phase);
  const lines = [
    `Noisy neighbour: one organization reads heavy list pages (1,000 executions, 1,000 task executions, 100 flows) at ${NOISY_FLOOD_CONNECTIONS} connections; ` +
      `another reads executions by id at ${NOISY_NEIGHBOUR_RATE} req/s over ${NOISY_NEIGHBOUR_CONNECTIONS} connections. ` +
      `"flood": the defaults; "admission off": ADMISSION_CONCURRENCY=0; "flows flood": pages of 100 flows alone, at the same 32 connections; ` +
      `"budget fixed": ADMISSION_LOOP_UTILIZATION=0. Event-loop delay: nodejs_eventloop_lag_p99_seconds over the phase. ` +
      `References: "raw server": the neighbour's reads from the ceiling server (no framework, the same SQL), alone and beside the same flood on the app; ` +
      `"idle probe": an idle process's own event-loop delay p99 over the phase, measured the same way; ` +
      `"waited for a core": how long the neighbour's server's event loop was ready to run while the machine's cores ran other processes, ms per second of the phase (/proc/<pid>/schedstat); ` +
      `"cores used": CPU seconds per second of the phase of the neighbour's server, of PostgreSQL (its processes on this machine alive at the phase's end: a floor) and of the bench's two load generators. ` +
      `Each phase measured for ${seconds} s (at least ${NOISY_MIN_SECONDS} s: ${NOISY_MIN_SECONDS * NOISY_NEIGHBOUR_RATE} reads), medians of ${rounds} rounds, the phases back to back in each.`,
    '',
    '| phase | neighbour p50 ms | neighbour p99 ms | p99 ÷ alone | event-loop delay p99 ms | idle probe p99 ms | server waited for a core, ms/s | cores used: server · PostgreSQL · load generators | neighbour errors | flood responses by status |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const phase of PHASES) {
    const runs = byPhase(phase);
    const alone = median(byPhase(REFERENCE[phase]).map((p) => p.p99));
    const p99 = median(runs.map((p) => p.p99));
    const statuses: Record<string, number> = {};
    for (const r of runs) for (const [code, n] of Object.entries(r.floodStatuses ?? {})) statuses[code] = (statuses[code] ?? 0) + n;
    const shown = Object.entries(statuses)
      .map(([c, n]) => `${c}: ${n}`)
      .join(', ');
    const cores = (of: (c: NoisyPhase['cores']) => number | null) => ms(median(runs.map((p) => of(p.cores))));
    lines.push(
      `| ${phase} | ${ms(median(runs.map((p) => p.p50)))} | ${ms(p99)} | ${p99 !== null && alone ? (p99 / alone).toFixed(2) : '–'} | ` +
        `${ms(median(runs.map((p) => p.loopP99)))} | ${ms(median(runs.map((p) => p.probeP99)))} | ${ms(median(runs.map((p) => p.serverWaitMsPerS)))} | ${cores((c) => c.server)} · ${cores((c) => c.postgres)} · ${cores((c) => c.load)} | ${runs.reduce((n, r) => n + r.neighbourErrors, 0)} | ${shown || '–'} |`,
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
  markdown: (result: NoisyResult, ctx: BenchContext) => noisyMarkdown(result, ctx.options.rounds, phaseSeconds(ctx.options)),
});
