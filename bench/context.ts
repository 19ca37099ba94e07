import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { LoadGenerator, readText, sampleProcess } from './processes';
import type { Measurement, Target } from './report';
import type { Scenario } from './scenarios';
import type { BenchDatabase, Fixture } from './seed';

export const ROOT = resolve(__dirname, '..', '..');
export const RESULTS = join(ROOT, 'bench', 'results');
export const APP_MAIN = join(ROOT, 'dist', 'src', 'main.js');

export interface Options {
  scale: number;
  duration: number;
  warmup: number;
  rounds: number;
  connections: number[];
  only: string[] | null;
  reseed: boolean;
  database: string;
}

/** A server the bench started: the app (or the ceiling), its output in bench/results/<name>.log. */
export interface BenchServer {
  name: string;
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** What a suite (an `--only` name beside the scenario keys) is handed. */
export interface BenchContext {
  options: Options;
  database: BenchDatabase;
  fixture: Fixture;
  /** Signs the bench's tokens (and the servers' JWT_SECRET). */
  jwtSecret: string;
  /** An org_admin of the fixture's organization. */
  auth: Record<string, string>;
  /** The main app server, with the defaults. */
  app: BenchServer;
  /** Every scenario of bench/scenarios.ts, whatever `--only` kept (e.g. `get` for a read beside something else). */
  scenarios: Scenario[];
  /** The measuring load generator (autocannon in its own process). */
  load: LoadGenerator;
  /** Another app server with these variables added to the main one's; stopped at the end of the run at the latest. */
  startApp: (name: string, extraEnv?: Record<string, string>) => Promise<BenchServer>;
  /** Another ceiling server (bench/raw-server.ts) answering as this organization; stopped at the end of the run at the latest. */
  startRaw: (name: string, organizationId: string) => Promise<BenchServer>;
  /** A warm-up, then a measured run of `scenario` against `on`, with its RSS and CPU sampled. */
  measure: (on: BenchServer, scenario: Scenario, connections: number) => Promise<Omit<Measurement, 'round'>>;
  log: (message: string) => void;
}

/**
 * One `--only` name beside the scenario keys: run after the scenarios, in the order of SUITES
 * (bench/suites.ts), when `--only` names it or is absent. `markdown` renders its section of
 * bench/results/latest.md (and the console); the result itself goes to latest.json under `name`.
 */
export interface Suite<R = unknown> {
  name: string;
  run: (ctx: BenchContext) => Promise<R>;
  markdown?: (result: R, ctx: BenchContext) => string;
}

/** Types a suite; `SUITES` holds them as `Suite`. */
export const suite = <R>(s: Suite<R>): Suite => s as Suite;

export const log = (message: string) => console.log(`[bench] ${message}`);
export const ms = (value: number | null) => (value === null ? '–' : value.toFixed(2));
export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A server that died mid-run (crashed, or killed from outside) makes every later figure meaningless: stop here. */
export function assertRunning(server: Pick<BenchServer, 'name' | 'child'>): void {
  const { child, name } = server;
  if (child.exitCode === null && child.signalCode === null) return;
  const tail = readText(join(RESULTS, `${name}.log`))
    .split('\n')
    .slice(-30)
    .join('\n');
  throw new Error(`the ${name} server (pid ${child.pid}) exited during the run (${child.signalCode ?? `code ${child.exitCode}`}); its log:\n${tail}`);
}

/** A warm-up, then the measured run with the server's RSS and CPU sampled; every response's status is checked. */
export async function measure(
  load: LoadGenerator,
  on: BenchServer & { target: Target; auth: Record<string, string> },
  s: Scenario,
  connections: number,
  options: Pick<Options, 'warmup' | 'duration'>,
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
  const sampler = sampleProcess(on.child.pid!);
  const result = await load({ ...command, seconds: options.duration });
  const { rssMB, cpuMs } = sampler.stop();
  assertRunning(on);
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
