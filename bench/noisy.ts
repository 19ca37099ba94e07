import { SignJWT } from 'jose';
import { assertRunning, BenchContext, ms, Options, suite } from './context';
import { startLoadGenerator, stopChild } from './processes';
import { ensureNeighbour } from './seed';

export const NOISY = 'noisy';
// Per organization and per caller; the neighbour reads at a steady rate well inside it.
const NOISY_LIMIT = { rps: 50, burst: 50 };
const NOISY_NEIGHBOUR_RATE = 40;
const NOISY_NEIGHBOUR_CONNECTIONS = 4;
const NOISY_FLOOD_CONNECTIONS = 32;

interface NoisyPhase {
  phase: string;
  p50: number | null;
  p99: number | null;
  neighbourErrors: number;
  floodStatuses: Record<string, number> | null;
}
interface NoisyResult {
  limit: typeof NOISY_LIMIT;
  phases: NoisyPhase[];
}

/**
 * One organization floods (lists of 1,000 executions, 1,000 task executions, creates) at 32
 * connections while another reads executions by id at a steady rate over 4 connections. The
 * neighbour's latency alone, under the flood with limits on (a server with RATE_LIMIT_RPS), and
 * under the flood with limits off (the main server), each round back to back.
 */
async function noisyNeighbour(ctx: BenchContext): Promise<NoisyResult> {
  const { database, options, load, log } = ctx;
  const neighbour = await ensureNeighbour(database.url, database.fixture);
  const token = await new SignJWT({ org_id: neighbour.organizationId, role: 'app_user' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench-neighbour')
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(ctx.jwtSecret));
  const limited = await ctx.startApp('app-limited', { RATE_LIMIT_RPS: String(NOISY_LIMIT.rps), RATE_LIMIT_BURST: String(NOISY_LIMIT.burst) });
  const flood = startLoadGenerator();
  const { fixture } = database;
  const floodRequests = [
    { path: `/api/flow-executions?flow_id=${fixture.hotFlowId}&page_size=1000` },
    { path: '/api/task-executions' },
    { path: '/api/flow-executions', method: 'POST' as const, body: JSON.stringify({ flow_id: fixture.postFlowId, input: { file_key: 'noisy.pdf' } }) },
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
    const measured = await load(neighbourCommand(url, options.duration));
    const floodResult = await flooding;
    const neighbourErrors = Object.entries(measured.statusCodes).reduce((n, [code, count]) => n + (code === '200' ? 0 : count), 0);
    log(
      `noisy ${phase}: neighbour p50 ${ms(measured.p50)} p99 ${ms(measured.p99)} (${measured.responses} responses, ${neighbourErrors} not 200)` +
        (floodResult ? `; flood ${JSON.stringify(floodResult.statusCodes)}` : ''),
    );
    return { phase, p50: measured.p50, p99: measured.p99, neighbourErrors, floodStatuses: floodResult?.statusCodes ?? null };
  };
  const phases: NoisyPhase[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      phases.push(await run('alone', limited.url, false));
      phases.push(await run('flood, limits on', limited.url, true));
      phases.push(await run('flood, limits off', ctx.app.url, true));
    }
  } finally {
    await limited.stop();
    await stopChild(flood.child);
  }
  return { limit: NOISY_LIMIT, phases };
}

function noisyMarkdown(noisy: NoisyResult, options: Options): string {
  const median = (values: (number | null)[]) => {
    const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return v.length ? v[Math.floor((v.length - 1) / 2)] : null;
  };
  const byPhase = (phase: string) => noisy.phases.filter((p) => p.phase === phase);
  const alone = median(byPhase('alone').map((p) => p.p99));
  const lines = [
    `Noisy neighbour: one organization floods (lists of 1,000 executions, the task executions list, creates) at ${NOISY_FLOOD_CONNECTIONS} connections; ` +
      `another reads executions by id at ${NOISY_NEIGHBOUR_RATE} req/s over ${NOISY_NEIGHBOUR_CONNECTIONS} connections. Limits: RATE_LIMIT_RPS=${noisy.limit.rps}, RATE_LIMIT_BURST=${noisy.limit.burst}. ` +
      `Medians of ${options.rounds} rounds, the three phases back to back in each.`,
    '',
    '| phase | neighbour p50 ms | neighbour p99 ms | p99 ÷ alone | neighbour errors | flood responses by status |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const phase of ['alone', 'flood, limits on', 'flood, limits off']) {
    const runs = byPhase(phase);
    const p99 = median(runs.map((p) => p.p99));
    const statuses: Record<string, number> = {};
    for (const r of runs) for (const [code, n] of Object.entries(r.floodStatuses ?? {})) statuses[code] = (statuses[code] ?? 0) + n;
    lines.push(
      `| ${phase} | ${ms(median(runs.map((p) => p.p50)))} | ${ms(p99)} | ${p99 !== null && alone ? (p99 / alone).toFixed(2) : '–'} | ` +
        `${runs.reduce((n, r) => n + r.neighbourErrors, 0)} | ${
          Object.keys(statuses).length
            ? Object.entries(statuses)
                .map(([c, n]) => `${c}: ${n}`)
                .join(', ')
            : '–'
        } |`,
    );
  }
  return lines.join('\n');
}

/** `--only noisy`. */
export const noisySuite = suite({
  name: NOISY,
  run: async (ctx: BenchContext) => {
    const result = await noisyNeighbour(ctx);
    assertRunning(ctx.app);
    return result;
  },
  markdown: (result: NoisyResult, ctx: BenchContext) => noisyMarkdown(result, ctx.options),
});
