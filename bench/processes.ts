import { ChildProcess, fork, spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { LoadCommand, LoadReply, LoadResult } from './load';
import type { ProbeCommand } from './loop-probe';

/**
 * Server processes, for the benchmarks and the end-to-end tests alike (test/utils/server-process.ts):
 * a free port, the server started on it, its readiness, its output, its stop.
 */

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything it wrote (stdout and stderr). */
  output: () => string;
  /** stdout alone (the same as `output` when the output goes to a file). */
  stdout: () => string;
  /** Sends `signal` (if it still runs); resolves with its exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export interface SpawnOptions {
  /** The script `node` runs, and the options before it (e.g. `-r ts-node/register/transpile-only`). */
  script: string;
  nodeArgs?: string[];
  cwd: string;
  /** The environment; `PORT` is set to a free port. */
  env: NodeJS.ProcessEnv;
  /** Where stdout and stderr go: kept in memory, or appended to a file. */
  logFile?: string;
}

/** Starts the server on a free port; it is not ready yet (see `waitUntilReady`). */
export async function spawnServer(options: SpawnOptions): Promise<ServerProcess> {
  const port = await freePort();
  const env = { ...options.env, PORT: String(port) };
  const args = [...(options.nodeArgs ?? []), options.script];
  let child: ChildProcess;
  let output: () => string;
  let stdout: () => string;
  if (options.logFile) {
    const logFile = options.logFile;
    const out = createWriteStream(logFile);
    await new Promise((done) => out.once('open', done));
    child = spawn(process.execPath, args, { cwd: options.cwd, env, stdio: ['ignore', out, out] });
    output = stdout = () => readText(logFile);
  } else {
    child = spawn(process.execPath, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let all = '';
    let out = '';
    child.stdout!.on('data', (chunk) => {
      all += chunk;
      out += chunk;
    });
    child.stderr!.on('data', (chunk) => (all += chunk));
    output = () => all;
    stdout = () => out;
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output,
    stdout,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Resolves when `/health/ready` answers 200; rejects with the server's output if it exits or takes too long. */
export async function waitUntilReady(server: ServerProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`the server exited (${server.child.signalCode ?? server.child.exitCode}) before it was ready:\n${tail(server.output())}`);
    }
    const ready = await fetch(`${server.url}/health/ready`).then(
      (res) => res.status === 200,
      () => false, // not listening yet
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`the server was not ready after ${timeoutMs / 1000} s:\n${tail(server.output())}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGTERM, then SIGKILL if it has not exited after `hardAfterMs`. */
export async function stopChild(child: ChildProcess, hardAfterMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const hard = setTimeout(() => child.kill('SIGKILL'), hardAfterMs);
  await exited;
  clearTimeout(hard);
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/**
 * The process's peak VmRSS (read every 200 ms) and the CPU time it used (utime + stime) until
 * stop(). CPU per request is steadier than req/s on a shared machine. Linux only; 0 elsewhere.
 */
export function sampleProcess(pid: number): { stop(): { rssMB: number; cpuMs: number } } {
  let peakKB = 0;
  const readRss = () => {
    const kB = rssKB(pid);
    if (kB) peakKB = Math.max(peakKB, kB);
  };
  const cpuAtStart = cpuMs(pid);
  readRss();
  const timer = setInterval(readRss, 200);
  return {
    stop: () => {
      clearInterval(timer);
      readRss();
      return { rssMB: peakKB / 1024, cpuMs: cpuMs(pid) - cpuAtStart };
    },
  };
}

/** The process's resident memory now, in kB (0 when unknown). */
export function rssKB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readText(`/proc/${pid}/status`))?.[1] ?? 0);
}

/** CPU time used so far by the process, ms (0 when unknown). */
export function cpuMs(pid: number): number {
  return statCpuMs(readText(`/proc/${pid}/stat`));
}

/**
 * The CPU time used so far by each process named `name` (`postgres`: PostgreSQL's server and
 * backends, when it runs on this machine), in ms by pid, from /proc (Linux; null elsewhere).
 */
export function cpuMsOfProcessesNamed(name: string): Map<number, number> | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const used = new Map<number, number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readText(`/proc/${entry}/stat`); // '' when it ended since the listing
    if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === name) used.set(Number(entry), statCpuMs(stat));
  }
  return used;
}

/**
 * The CPU time, ms, that the processes of two readings of `cpuMsOfProcessesNamed` used between
 * them: the processes alive at the second, from their first reading or from their start. A process
 * that ended in between is not counted, so this is a floor.
 */
export function cpuMsBetween(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (!before || !after) return null;
  let used = 0;
  for (const [pid, ms] of after) used += ms - (before.get(pid) ?? 0);
  return used;
}

/** utime + stime of a /proc/<pid>/stat text: fields 14 and 15, after the parenthesised command name, in ticks of 1/100 s (USER_HZ). */
function statCpuMs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * 10;
}

/** Resolves once the process uses under 5% of a core for a second (at most 30 s). */
export async function untilIdle(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (let before = cpuMs(pid); Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const now = cpuMs(pid);
    if (now - before < 50) return;
    before = now;
  }
}

// Children registered here are killed on any exit of this process, even a crash.
const children = new Set<ChildProcess>();
export function track<T extends ChildProcess>(child: T): T {
  if (children.size === 0) process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops every tracked child (SIGTERM, then SIGKILL). */
export async function stopTracked(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

export type LoadGenerator = ((command: Omit<LoadCommand, 'id'>) => Promise<LoadResult>) & { child: ChildProcess };

/** An autocannon child (load.ts), one command at a time. */
export function startLoadGenerator(): LoadGenerator {
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

export interface LoopProbe {
  /** Starts a window. */
  reset: () => Promise<void>;
  /** The window's event-loop delay p99, ms (null before a sample). */
  read: () => Promise<number | null>;
  child: ChildProcess;
}

/** An idle child that measures its own event-loop delay (loop-probe.ts), one command at a time. */
export function startLoopProbe(): LoopProbe {
  const child = track(fork(join(__dirname, 'loop-probe.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const ask = <T>(command: ProbeCommand) =>
    new Promise<T>((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`the loop probe exited (${code})`));
      child.once('exit', exited);
      child.once('message', (reply: T) => {
        child.off('exit', exited);
        resolve(reply);
      });
      child.send(command);
    });
  return { reset: () => ask<null>('reset').then(() => undefined), read: () => ask<number | null>('read'), child };
}

/** A file's text, or '' (not Linux, or the process is gone). */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const tail = (text: string) => text.split('\n').slice(-30).join('\n');
