import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import { loadConfig } from '../src/config/app-config';
import { APP_MAIN, BenchContext, BenchServer, log, measure, ms, Options, RESULTS, ROOT } from './context';
import { spawnServer, startLoadGenerator, stopChild, stopTracked, track, waitUntilReady } from './processes';
import { cpuTimes, machineShareSince } from './machine';
import { Measurement, summarize, SuiteReport, Target, writeReport } from './report';
import { buildScenarios, checkScenarios, Scenario } from './scenarios';
import { BENCH_DATABASE, BENCH_SUBJECT, BenchDatabase, openBenchDatabase } from './seed';
import { SUITES } from './suites';
import { IDLE_POLLS } from './watch';

/** What `npm start` sets GLIBC_TUNABLES to when it is not set (package.json). */
const APP_GLIBC_TUNABLES = 'glibc.malloc.hugetlb=1';

const USAGE = `npm run bench -- [--scale 1] [--duration 5] [--warmup 2] [--rounds 2] [--connections 1,32] [--only get,list-page,watch,noisy,hostile,otel,writes,liveness] [--reseed] [--database flows_bench]
  DATABASE_URL set: seeds/reuses the database ${BENCH_DATABASE} on that server; unset: an embedded PostgreSQL under data/bench
  on port EMBEDDED_PG_PORT + 1. Results: bench/results/latest.{json,md}.`;

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

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const jwtSecret = randomBytes(32).toString('hex');
  // The app's own defaults (pool size, embedded port), read as the app reads them.
  const config = loadConfig({ ...process.env, JWT_SECRET: jwtSecret });
  mkdirSync(RESULTS, { recursive: true });

  let database: BenchDatabase | undefined;
  const stopAll = once(async () => {
    await stopTracked();
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

    const { JWT_ISSUER: _issuer, JWT_AUDIENCE: _audience, ...env } = process.env; // the bench token carries neither
    const databaseUrl = database.url;
    // As `npm start` runs it: glibc's allocator on transparent huge pages (docs/operations.md#memory).
    const glibcTunables = process.env.GLIBC_TUNABLES ?? APP_GLIBC_TUNABLES;
    const appEnv = { ...env, GLIBC_TUNABLES: glibcTunables, NODE_ENV: 'production', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl, JWT_SECRET: jwtSecret };
    const startApp = (name: string, extraEnv: Record<string, string> = {}) => startServer(name, APP_MAIN, { ...appEnv, ...extraEnv });
    const startRaw = (name: string, organizationId: string) =>
      startServer(name, join(__dirname, 'raw-server.js'), {
        ...env,
        DATABASE_URL: databaseUrl,
        POOL_SIZE: String(config.dbPoolSize),
        ORG_ID: organizationId,
      });
    const servers: Record<Target, BenchServer> = {
      // The watch suite holds 10,000 idle long-polls of one caller: what holding costs, past the default caps.
      app: await startApp('app', { HELD_REQUESTS_PER_ORG: String(2 * IDLE_POLLS), HELD_REQUESTS_PER_CREDENTIAL: String(2 * IDLE_POLLS) }),
      raw: await startRaw('raw', fixture.organizationId),
    };
    // The machine's CPU from here (the seed done, the servers up) to the report.
    const started = cpuTimes();

    const db = new Client({ connectionString: database.url });
    await db.connect();
    let all: Scenario[];
    try {
      all = await buildScenarios(db, fixture, servers.app.url, auth);
    } finally {
      await db.end();
    }
    let scenarios = all;
    const suites = SUITES.filter((s) => !options.only || options.only.includes(s.name));
    if (options.only) {
      const unknown = options.only.filter((key) => !SUITES.some((s) => s.name === key) && !all.some((s) => s.key === key));
      if (unknown.length) {
        throw new UsageError(`unknown scenario(s) ${unknown.join(', ')}; known: ${[...all.map((s) => s.key), ...SUITES.map((s) => s.name)].join(', ')}`);
      }
      scenarios = all.filter((s) => options.only!.includes(s.key));
    }

    const parity = await checkScenarios(scenarios, servers.app.url, servers.raw.url, auth);
    for (const p of parity) log(`${p.ok ? 'ok  ' : 'DIFF'} ${p.scenario}: ${p.detail}`);

    const load = startLoadGenerator();
    const on = (target: Target) => ({ ...servers[target], target, auth });
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
            const m = await measure(load, on(target), s, connections, options);
            measurements.push({ ...m, round });
            line.push(
              `${target} ${m.requestsPerSecond.toFixed(0)} req/s p50 ${ms(m.p50)} p99 ${ms(m.p99)} cpu/req ${ms(m.cpuMsPerRequest)}${m.errors ? ` ERRORS ${m.errors}` : ''}`,
            );
          }
          log(`round ${round}/${options.rounds} ${s.key} c=${connections}: ${line.join(' | ')}`);
        }
      }
    }
    const rows = summarize(
      scenarios.filter((s) => measurements.some((m) => m.scenario === s.key)),
      options.connections,
      measurements,
    );

    const ctx: BenchContext = {
      options,
      database,
      fixture,
      jwtSecret,
      auth,
      app: servers.app,
      scenarios: all,
      load,
      startApp,
      startRaw,
      measure: (server, scenario, connections) => measure(load, { ...server, target: 'app', auth }, scenario, connections, options),
      log,
    };
    const reports: SuiteReport[] = [];
    for (const s of suites) {
      const result = await s.run(ctx);
      reports.push({ name: s.name, result, markdown: s.markdown?.(result, ctx) });
    }
    writeReport(options, database, rows, measurements, parity, reports, machineShareSince(started));
  } finally {
    await stopAll();
  }
}

/**
 * A server as a tracked child with its output in bench/results/<name>.log; resolves once /health/ready answers 200.
 * `BENCH_SERVER_NODE_ARGS` (space-separated) goes to every server's node, for example
 * `--cpu-prof --cpu-prof-dir=bench/results/profiles` (NODE_OPTIONS refuses --cpu-prof).
 */
async function startServer(name: string, script: string, env: NodeJS.ProcessEnv): Promise<BenchServer> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const server = await spawnServer({ script, cwd: ROOT, env, nodeArgs, logFile: join(RESULTS, `${name}.log`) });
  track(server.child);
  await waitUntilReady(server, 60_000).catch((error: Error) => {
    throw new Error(`the ${name} server: ${error.message}`);
  });
  log(`${name} server ready on port ${server.port} (pid ${server.child.pid}, log bench/results/${name}.log)`);
  return { name, url: server.url, child: server.child, stop: () => stopChild(server.child) };
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : error);
  process.exitCode = 1;
});
