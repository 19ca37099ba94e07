import { ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import { loadConfig } from '../src/config/app-config';
import type { LoadCommand, LoadReply, LoadResult } from './load';
import { consoleTable, markdownTable, Measurement, Row, summarize, Target } from './report';
import { buildScenarios, checkScenarios, ParityCheck, Scenario } from './scenarios';
import { BENCH_DATABASE, BENCH_SUBJECT, BenchDatabase, ensureNeighbour, openBenchDatabase } from './seed';
import { holdIdlePolls, wakeLatency, WatchResults, writeCosts } from './watch';
import { benchHostile, hostileMarkdown, HostileRow } from './hostile';
import { benchBulk } from './bulk';

const USAGE = `npm run bench -- [--scale 1] [--duration 5] [--warmup 2] [--rounds 2] [--connections 1,32] [--only get,list-page,watch,noisy,hostile,bulk,stats] [--reseed] [--database flows_bench]
  DATABASE_URL set: seeds/reuses the database ${BENCH_DATABASE} on that server; unset: an embedded PostgreSQL under data/bench
  on port EMBEDDED_PG_PORT + 1. Results: bench/results/latest.{json,md}.`;

const ROOT = resolve(__dirname, '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');
const APP_MAIN = join(ROOT, 'dist', 'src', 'main.js');

interface Options {
  scale: number;
  duration: number;
  warmup: number;
  rounds: number;
  connections: number[];
  only: string[] | null;
  reseed: boolean;
  database: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = usageErrors(() =>
    parseArgs({
      args: argv,
      strict: true,
      options: {
        scale: { type: 'string', default: '1' },
        duration: { type: 'string', default: '5' },
        warmup: { type: 'string', default: '2' },
        rounds: { type: 'string', default: '2' },
        connections: { type: 'string', default: '1,32' },
        only: { type: 'string' },
        reseed: { type: 'boolean', default: false },
        database: { type: 'string', default: BENCH_DATABASE },
        help: { type: 'boolean', default: false },
      },
    }),
  );
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (name: string, raw: string, { integer = false, zero = false } = {}): number => {
    const n = Number(raw);
    if (!(n > 0 || (zero && n === 0)) || (integer && !Number.isInteger(n))) {
      throw new UsageError(`--${name} must be a ${zero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, got "${raw}"`);
    }
    return n;
  };
  return {
    scale: number('scale', values.scale!),
    duration: number('duration', values.duration!, { integer: true }),
    warmup: number('warmup', values.warmup!, { zero: true }),
    rounds: number('rounds', values.rounds!, { integer: true }),
    connections: values.connections!.split(',').map((c) => number('connections', c, { integer: true })),
    only: values.only ? values.only.split(',') : null,
    reseed: values.reseed!,
    database: values.database!,
  };
}

class UsageError extends Error {}

function usageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const log = (message: string) => console.log(`[bench] ${message}`);

// Every child (servers, load generator) is registered here: killed on any exit, even a crash.
const children = new Set<ChildProcess>();
function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
process.once('exit', () => children.forEach((child) => child.kill('SIGKILL')));

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const jwtSecret = randomBytes(32).toString('hex');
  // The app's own defaults (pool size, embedded port), read as the app reads them.
  const config = loadConfig({ ...process.env, JWT_SECRET: jwtSecret });
  mkdirSync(RESULTS, { recursive: true });

  let database: BenchDatabase | undefined;
  const stopAll = once(async () => {
    await Promise.all([...children].map(stopChild));
    await database?.stop();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void stopAll().finally(() => process.exit(130));
    });
  }

  try {
    database = await openBenchDatabase({
      adminUrl: config.databaseUrl,
      embedded: { dataDir: join(ROOT, 'data', 'bench'), port: config.embeddedPgPort + 1 },
      scale: options.scale,
      reseed: options.reseed,
      database: options.database,
      log,
    });
    const { fixture } = database;
    const token = await new SignJWT({ org_id: fixture.organizationId, role: 'org_admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(BENCH_SUBJECT)
      .setIssuedAt()
      .setExpirationTime('24h')
      .sign(new TextEncoder().encode(jwtSecret));
    const auth = { Authorization: `Bearer ${token}` };

    const [appPort, rawPort] = [await freePort(), await freePort()];
    const { JWT_ISSUER, JWT_AUDIENCE, ...env } = process.env; // the bench token carries neither
    const servers: Record<Target, ChildProcess> = {
      app: await startServer('app', APP_MAIN, appPort, {
        ...env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        DATABASE_URL: database.url,
        JWT_SECRET: jwtSecret,
        PORT: String(appPort),
      }),
      raw: await startServer('raw', join(__dirname, 'raw-server.js'), rawPort, {
        ...env,
        DATABASE_URL: database.url,
        PORT: String(rawPort),
        POOL_SIZE: String(config.dbPoolSize),
        ORG_ID: fixture.organizationId,
      }),
    };
    const urls: Record<Target, string> = { app: `http://127.0.0.1:${appPort}`, raw: `http://127.0.0.1:${rawPort}` };

    const db = new Client({ connectionString: database.url });
    await db.connect();
    let scenarios: Scenario[];
    try {
      scenarios = await buildScenarios(db, fixture, urls.app, auth);
    } finally {
      await db.end();
    }
    const watching = !options.only || options.only.includes(WATCH);
    const getById = scenarios.find((s) => s.key === 'get')!;
    if (options.only) {
      const unknown = options.only.filter((key) => ![WATCH, NOISY, HOSTILE, ...BULK].includes(key) && !scenarios.some((s) => s.key === key));
      if (unknown.length) throw new UsageError(`unknown scenario(s) ${unknown.join(', ')}; known: ${scenarios.map((s) => s.key).join(', ')}`);
      scenarios = scenarios.filter((s) => options.only!.includes(s.key));
    }

    const parity = await checkScenarios(scenarios, urls.app, urls.raw, auth);
    for (const p of parity) log(`${p.ok ? 'ok  ' : 'DIFF'} ${p.scenario}: ${p.detail}`);

    const load = startLoadGenerator();
    const runs = scenarios.reduce((n, s) => n + (s.ceiling ? 2 : 1), 0) * options.connections.length * options.rounds;
    log(`${runs} runs of ${options.warmup} + ${options.duration} s: about ${Math.ceil((runs * (options.warmup + options.duration)) / 60)} min`);

    const measurements: Measurement[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const s of scenarios) {
        for (const connections of options.connections) {
          // Side by side: the same scenario on both servers, back to back; who goes first alternates by round.
          const targets: Target[] = !s.ceiling ? ['app'] : round % 2 ? ['app', 'raw'] : ['raw', 'app'];
          const line: string[] = [];
          for (const target of targets) {
            const m = await measure(load, { target, server: servers[target], url: urls[target], auth }, s, connections, options);
            measurements.push({ ...m, round });
            line.push(
              `${target} ${m.requestsPerSecond.toFixed(0)} req/s p50 ${ms(m.p50)} p99 ${ms(m.p99)} cpu/req ${ms(m.cpuMsPerRequest)}${m.errors ? ` ERRORS ${m.errors}` : ''}`,
            );
          }
          log(`round ${round}/${options.rounds} ${s.key} c=${connections}: ${line.join(' | ')}`);
        }
      }
    }

    let watch: WatchResults | null = null;
    if (watching) {
      const watchPort = await freePort();
      const second = await startServer('app-2', APP_MAIN, watchPort, {
        ...env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        DATABASE_URL: database.url,
        JWT_SECRET: jwtSecret,
        PORT: String(watchPort),
      });
      watch = await benchWatching(
        load,
        { app: servers.app, url: urls.app, second, secondUrl: `http://127.0.0.1:${watchPort}`, auth, getById },
        database,
        options,
      );
    }

    const rows = summarize(
      scenarios.filter((s) => measurements.some((m) => m.scenario === s.key)),
      options.connections,
      measurements,
    );
    let noisy: NoisyResult | null = null;
    if (!options.only || options.only.includes(NOISY)) {
      noisy = await noisyNeighbour({ database, jwtSecret, env, unlimitedUrl: urls.app, load, floodAuth: auth, options });
    }
    let hostile: HostileRow[] | null = null;
    if (!options.only || options.only.includes(HOSTILE)) {
      hostile = await benchHostile({ url: urls.app, jwtSecret, fixture, log });
      assertRunning('app', servers.app);
    }
    if (!options.only || options.only.some((key) => BULK.includes(key))) {
      await benchBulk({ url: urls.app, databaseUrl: database.url, jwtSecret, fixture, only: options.only, log });
      assertRunning('app', servers.app);
    }
    writeReport(options, database, rows, measurements, parity, watch, noisy, hostile);
  } finally {
    await stopAll();
  }
}

const WATCH = 'watch';
const HOSTILE = 'hostile';
// bench/bulk.ts: results in bench/results/bulk.{json,md}.
const BULK = ['bulk', 'stats'];
const IDLE_POLLS = 10_000;

/**
 * Watching runs: wake latency with the waiter and the writer on different processes; 10,000 idle
 * long-polls on one process (its RSS, its database connections, GET by id for everyone else beside
 * them); and what writing events adds to a create and a status change.
 */
async function benchWatching(
  load: LoadGenerator,
  on: { app: ChildProcess; url: string; second: ChildProcess; secondUrl: string; auth: Record<string, string>; getById: Scenario },
  database: BenchDatabase,
  options: Options,
): Promise<WatchResults> {
  const { fixture } = database;
  log('watch: wake latency, 200 long-polls woken from another process');
  const wake = await wakeLatency(on.url, on.secondUrl, on.auth, fixture.postFlowId, 200);
  log(`watch: wake p50 ${ms(wake.p50)} ms, p99 ${ms(wake.p99)} ms`);
  await stopChild(on.second); // from here on, the database connections counted are the app's

  const db = new Client({ connectionString: database.url });
  await db.connect();
  const connections = async () =>
    Number((await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows[0].n);
  const rss = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readProc(`/proc/${on.app.pid}/status`))?.[1] ?? 0) / 1024;
  try {
    const ids = (await db.query(`SELECT id FROM flow_executions WHERE flow_id = $1 AND status <> 'deleted' LIMIT 1000`, [fixture.smallFlowId])).rows.map(
      (r) => r.id as string,
    );
    const target = { target: 'app' as Target, server: on.app, url: on.url, auth: on.auth };
    const idle = { polls: IDLE_POLLS, rssBeforeMB: 0, rssHeldMB: 0, dbConnectionsBefore: 0, dbConnectionsHeld: 0 };
    const getRuns: { alone: number[]; beside: number[] } = { alone: [], beside: [] };
    for (let round = 1; round <= options.rounds; round++) {
      getRuns.alone.push((await measure(load, target, on.getById, 32, options)).requestsPerSecond);
      // After a run at 32 connections the pool is at its size: what the polls add comes on top.
      idle.rssBeforeMB = Math.max(idle.rssBeforeMB, rss());
      idle.dbConnectionsBefore = Math.max(idle.dbConnectionsBefore, await connections());
      log(`watch: holding ${IDLE_POLLS} idle long-polls (round ${round})`);
      const release = await holdIdlePolls(on.url, on.auth, ids, IDLE_POLLS);
      await untilIdle(on.app.pid!); // every poll read its row and parked
      idle.rssHeldMB = Math.max(idle.rssHeldMB, rss());
      idle.dbConnectionsHeld = Math.max(idle.dbConnectionsHeld, await connections());
      getRuns.beside.push((await measure(load, target, on.getById, 32, options)).requestsPerSecond);
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

/** Resolves once the process uses under 5% of a core for a second (at most 30 s). */
async function untilIdle(pid: number): Promise<void> {
  const ticks = () => {
    const fields = readProc(`/proc/${pid}/stat`).split(') ')[1]?.split(' ') ?? [];
    return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  };
  const deadline = Date.now() + 30_000;
  for (let before = ticks(); Date.now() < deadline;) {
    await sleep(1_000);
    const now = ticks();
    if (now - before < 5) return;
    before = now;
  }
}

/** A warm-up, then the measured run with the server's RSS and CPU sampled; every response's status is checked. */
async function measure(
  load: LoadGenerator,
  on: { target: Target; server: ChildProcess; url: string; auth: Record<string, string> },
  s: Scenario,
  connections: number,
  options: Options,
): Promise<Omit<Measurement, 'round'>> {
  const command = {
    url: on.url,
    connections,
    method: s.method,
    headers: { ...(s.credentials ?? on.auth), ...(s.body ? { 'Content-Type': 'application/json' } : {}) },
    body: s.body,
    requests: s.requests,
  };
  if (options.warmup > 0) await load({ ...command, seconds: options.warmup });
  const sampler = sampleProcess(on.server.pid!);
  const result = await load({ ...command, seconds: options.duration });
  const { rssMB, cpuMs } = sampler.stop();
  assertRunning(on.target, on.server);
  const unexpected = Object.entries(result.statusCodes).reduce((n, [code, count]) => n + (Number(code) === s.expect ? 0 : count), 0);
  return {
    ...result,
    scenario: s.key,
    target: on.target,
    connections,
    rssMB,
    // CPU time comes in 10 ms ticks: below 10 ticks the figure would be noise.
    cpuMsPerRequest: result.responses && cpuMs >= 100 ? cpuMs / result.responses : null,
    errors: unexpected + result.connectionErrors + result.timeouts + (result.responses === 0 ? 1 : 0),
  };
}

const NOISY = 'noisy';
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
async function noisyNeighbour(ctx: {
  database: BenchDatabase;
  jwtSecret: string;
  env: NodeJS.ProcessEnv;
  unlimitedUrl: string;
  load: LoadGenerator;
  floodAuth: Record<string, string>;
  options: Options;
}): Promise<NoisyResult> {
  const { database, options, load } = ctx;
  const neighbour = await ensureNeighbour(database.url, database.fixture);
  const token = await new SignJWT({ org_id: neighbour.organizationId, role: 'app_user' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench-neighbour')
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(ctx.jwtSecret));
  const port = await freePort();
  const limited = await startServer('app-limited', APP_MAIN, port, {
    ...ctx.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: database.url,
    JWT_SECRET: ctx.jwtSecret,
    PORT: String(port),
    RATE_LIMIT_RPS: String(NOISY_LIMIT.rps),
    RATE_LIMIT_BURST: String(NOISY_LIMIT.burst),
  });
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
          headers: ctx.floodAuth,
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
      phases.push(await run('alone', `http://127.0.0.1:${port}`, false));
      phases.push(await run('flood, limits on', `http://127.0.0.1:${port}`, true));
      phases.push(await run('flood, limits off', ctx.unlimitedUrl, true));
    }
  } finally {
    await stopChild(limited);
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

function writeReport(
  options: Options,
  database: BenchDatabase,
  rows: Row[],
  measurements: Measurement[],
  parity: ParityCheck[],
  watch: WatchResults | null,
  noisy: NoisyResult | null,
  hostile: HostileRow[] | null,
): void {
  const cpu = cpus();
  const machine = {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    postgres: database.postgresVersion,
  };
  const databaseUrl = process.env.DATABASE_URL ? `DATABASE_URL=${redact(process.env.DATABASE_URL)} ` : '';
  const args = process.argv.slice(2).join(' ');
  const command = `${databaseUrl}npm run bench${args ? ` -- ${args}` : ''}`;
  const { fixture, seed } = database;
  const data = `${fixture.executions.toLocaleString('en')} executions (hot flow ${fixture.hotExecutions.toLocaleString('en')}, ${fixture.smallFlows.toLocaleString('en')} flows × ${fixture.perSmallFlow}), flow_executions ${seed.tableMB} MB; ${seed.reused ? `seeded earlier (${seed.seededAt})` : `seeded in ${seed.seconds!.toFixed(1)} s`}`;
  const errors = rows.filter((r) => r.errors > 0);

  console.log(`\n${consoleTable(rows)}\n`);
  if (noisy) console.log(`${noisyMarkdown(noisy, options)}\n`);
  const hostileReport = hostile
    ? hostileMarkdown(
        hostile,
        loadavg()
          .map((l) => l.toFixed(2))
          .join(', '),
      )
    : null;
  if (hostileReport) console.log(`${hostileReport}\n`);
  if (errors.length) {
    const why = (r: Row) =>
      [
        `statuses ${JSON.stringify(r.statusCodes)}`,
        r.connectionErrors && `${r.connectionErrors} connection errors`,
        r.timeouts && `${r.timeouts} timeouts`,
        r.emptyRuns && `${r.emptyRuns} runs where no response completed`,
      ]
        .filter(Boolean)
        .join(', ');
    console.log(`⚠ errors in: ${errors.map((r) => `${r.scenario} c=${r.connections}: ${r.errors} (${why(r)})`).join('; ')}`);
  }
  const differing = parity.filter((p) => !p.ok);
  if (differing.length) console.log(`⚠ the raw server differs from the app in: ${differing.map((p) => p.scenario).join(', ')}`);

  const markdown = [
    `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB, ${machine.os}, Node ${machine.node}, PostgreSQL ${machine.postgres} (${database.server})`,
    '',
    `Data: ${data}.`,
    '',
    `Medians of ${options.rounds} round${options.rounds === 1 ? '' : 's'} of ${options.duration} s after ${options.warmup} s of warm-up, autocannon in its own process. ` +
      `Ceiling: a bare node:http + pg server running the same SQL and JSON; ratio = app req/s ÷ ceiling req/s, measured back to back in each round. ` +
      `CPU ms/req: the server process's CPU time (user + system) per response, app / ceiling. RSS: the app's peak during the run.${errors.length ? ' ⚠ = some responses had an unexpected status, or failed.' : ''}`,
    '',
    markdownTable(rows),
    '',
    ...(watch ? watchReport(watch) : []),
    ...(noisy ? [noisyMarkdown(noisy, options), ''] : []),
    ...(hostileReport ? [hostileReport] : []),
  ].join('\n');
  writeFileSync(join(RESULTS, 'latest.md'), markdown);
  writeFileSync(
    join(RESULTS, 'latest.json'),
    JSON.stringify(
      { date: new Date().toISOString(), command, machine, options, data: { ...fixture, ...seed }, parity, rows, measurements, watch, noisy, hostile },
      null,
      2,
    ),
  );
  log(`wrote bench/results/latest.md and latest.json`);
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

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The server as a child with its output in bench/results/<name>.log; resolves once /health/ready answers 200. */
async function startServer(name: string, script: string, port: number, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const logFile = join(RESULTS, `${name}.log`);
  const out = createWriteStream(logFile);
  await new Promise((done) => out.once('open', done));
  const child = track(spawn(process.execPath, [script], { cwd: ROOT, env, stdio: ['ignore', out, out] }));
  let exited: string | null = null;
  child.once('exit', (code, signal) => (exited = `exited (${signal ?? code})`));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const tail = () => readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
    if (exited) throw new Error(`the ${name} server ${exited} before it was ready:\n${tail()}`);
    if (Date.now() > deadline) throw new Error(`the ${name} server was not ready after 60 s:\n${tail()}`);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) {
      log(`${name} server ready on port ${port} (pid ${child.pid}, log bench/results/${name}.log)`);
      return child;
    }
    await sleep(200);
  }
}

/** A server that died mid-run (crashed, or killed from outside) makes every later figure meaningless: stop here. */
function assertRunning(name: string, child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) return;
  const tail = readProc(join(RESULTS, `${name}.log`))
    .split('\n')
    .slice(-30)
    .join('\n');
  throw new Error(`the ${name} server (pid ${child.pid}) exited during the run (${child.signalCode ?? `code ${child.exitCode}`}); its log:\n${tail}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(hard);
}

type LoadGenerator = ((command: Omit<LoadCommand, 'id'>) => Promise<LoadResult>) & { child: ChildProcess };

/** The autocannon child (load.ts), one command at a time. */
function startLoadGenerator(): LoadGenerator {
  const child = track(fork(join(__dirname, 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  child.on('message', (reply: LoadReply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if ('error' in reply) waiter?.reject(new Error(`load generator: ${reply.error}`));
    else waiter?.resolve(reply.result);
  });
  child.once('exit', (code) => pending.forEach((w) => w.reject(new Error(`the load generator exited (${code})`))));
  const generator = (command: Omit<LoadCommand, 'id'>) =>
    new Promise<LoadResult>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ ...command, id } satisfies LoadCommand);
    });
  return Object.assign(generator, { child });
}

/**
 * The server's peak VmRSS (read every 200 ms) and the CPU time it used (utime + stime) until
 * stop(). CPU per request is steadier than req/s on a shared machine. Linux only; 0 elsewhere.
 */
function sampleProcess(pid: number): { stop(): { rssMB: number; cpuMs: number } } {
  let peakKB = 0;
  const readRss = () => {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readProc(`/proc/${pid}/status`));
    if (match) peakKB = Math.max(peakKB, Number(match[1]));
  };
  // Fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name; in ticks of 1/100 s (USER_HZ).
  const cpuMs = () => {
    const fields = readProc(`/proc/${pid}/stat`).split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * 10;
  };
  const cpuAtStart = cpuMs();
  readRss();
  const timer = setInterval(readRss, 200);
  return {
    stop: () => {
      clearInterval(timer);
      readRss();
      return { rssMB: peakKB / 1024, cpuMs: cpuMs() - cpuAtStart };
    },
  };
}

function readProc(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // not Linux, or the process is gone
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

const ms = (value: number | null) => (value === null ? '–' : value.toFixed(2));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : error);
  process.exitCode = 1;
});
