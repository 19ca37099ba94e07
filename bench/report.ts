import { writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { log, Options, RESULTS } from './context';
import type { LoadResult } from './load';
import { describeShare, MachineShare } from './machine';
import type { ParityCheck, Scenario } from './scenarios';
import type { BenchDatabase } from './seed';

export type Target = 'app' | 'raw';

/** One measured autocannon run. */
export interface Measurement extends LoadResult {
  round: number;
  scenario: string;
  target: Target;
  connections: number;
  /** Peak VmRSS of the server under load, in MB. */
  rssMB: number;
  /** CPU time of the server process per response. */
  cpuMsPerRequest: number | null;
  /** Responses with another status than expected, connection errors and timeouts; 1 when no response completed. */
  errors: number;
}

/** One line of the table: medians over the rounds. */
export interface Row {
  scenario: string;
  name: string;
  connections: number;
  requestsPerSecond: number;
  p50: number | null;
  p99: number | null;
  ceilingRequestsPerSecond: number | null;
  /** Median of the per-round ratios app ÷ raw (each measured side by side). */
  ratio: number | null;
  cpuMsPerRequest: number | null;
  ceilingCpuMsPerRequest: number | null;
  rssMB: number;
  ceilingRssMB: number | null;
  errors: number;
  statusCodes: Record<string, number>;
  connectionErrors: number;
  timeouts: number;
  /** Runs in which not one response completed (every request slower than the run). */
  emptyRuns: number;
}

export function summarize(scenarios: Scenario[], connections: number[], measurements: Measurement[]): Row[] {
  const rows: Row[] = [];
  for (const s of scenarios) {
    for (const c of connections) {
      const of = (target: Target) => measurements.filter((m) => m.scenario === s.key && m.connections === c && m.target === target);
      const app = of('app');
      const raw = of('raw');
      if (app.length === 0) continue;
      const ratios = app.flatMap((a) => {
        const r = raw.find((m) => m.round === a.round);
        return r && r.requestsPerSecond > 0 ? [a.requestsPerSecond / r.requestsPerSecond] : [];
      });
      const statusCodes: Record<string, number> = {};
      for (const m of [...app, ...raw]) {
        for (const [code, n] of Object.entries(m.statusCodes)) statusCodes[`${m.target} ${code}`] = (statusCodes[`${m.target} ${code}`] ?? 0) + n;
      }
      rows.push({
        scenario: s.key,
        name: s.name,
        connections: c,
        requestsPerSecond: median(app.map((m) => m.requestsPerSecond)),
        p50: median(app.map((m) => m.p50)),
        p99: median(app.map((m) => m.p99)),
        ceilingRequestsPerSecond: raw.length ? median(raw.map((m) => m.requestsPerSecond)) : null,
        ratio: ratios.length ? median(ratios) : null,
        cpuMsPerRequest: median(app.map((m) => m.cpuMsPerRequest)),
        ceilingCpuMsPerRequest: raw.length ? median(raw.map((m) => m.cpuMsPerRequest)) : null,
        rssMB: median(app.map((m) => m.rssMB)),
        ceilingRssMB: raw.length ? median(raw.map((m) => m.rssMB)) : null,
        errors: sum([...app, ...raw], (m) => m.errors),
        statusCodes,
        connectionErrors: sum([...app, ...raw], (m) => m.connectionErrors),
        timeouts: sum([...app, ...raw], (m) => m.timeouts),
        emptyRuns: sum([...app, ...raw], (m) => (m.responses === 0 ? 1 : 0)),
      });
    }
  }
  return rows;
}

const HEADER = ['scenario', 'conn', 'req/s', 'p50 ms', 'p99 ms', 'ceiling req/s', 'ratio', 'CPU ms/req', 'RSS MB', 'errors'];

const fixed = (value: number | null, digits: number) => (value === null ? '–' : value.toFixed(digits));

function cells(row: Row): string[] {
  const hasCeiling = row.ceilingRequestsPerSecond !== null;
  return [
    row.errors > 0 ? `${row.name} ⚠` : row.name,
    String(row.connections),
    fixed(row.requestsPerSecond, 0),
    fixed(row.p50, 2),
    fixed(row.p99, 2),
    fixed(row.ceilingRequestsPerSecond, 0),
    fixed(row.ratio, 2),
    hasCeiling ? `${fixed(row.cpuMsPerRequest, 2)} / ${fixed(row.ceilingCpuMsPerRequest, 2)}` : fixed(row.cpuMsPerRequest, 2),
    fixed(row.rssMB, 0),
    String(row.errors),
  ];
}

export function consoleTable(rows: Row[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(cells(r)))].join('\n');
}

export function markdownTable(rows: Row[]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(HEADER), `|${HEADER.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => line(cells(r)))].join('\n');
}

const sum = <T>(items: T[], of: (item: T) => number) => items.reduce((n, item) => n + of(item), 0);

export function median<T extends number | null>(values: T[]): T {
  const sorted = values.filter((v): v is NonNullable<T> => v !== null).sort((a, b) => a - b);
  if (sorted.length === 0) return null as T;
  const mid = Math.floor(sorted.length / 2);
  return (sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2) as T;
}

/** A suite's result, and its section of the report. */
export interface SuiteReport {
  name: string;
  result: unknown;
  markdown?: string;
}

/** The tables on the console, and bench/results/latest.{md,json}. */
export function writeReport(
  options: Options,
  database: BenchDatabase,
  rows: Row[],
  measurements: Measurement[],
  parity: ParityCheck[],
  suites: SuiteReport[],
  share: MachineShare | null,
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
  console.log(`During the run: ${describeShare(share)}.\n`);
  for (const s of suites) if (s.markdown) console.log(`${s.markdown.trimEnd()}\n`);
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
    `During the run: ${describeShare(share)}.`,
    '',
    `Data: ${data}.`,
    '',
    `Medians of ${options.rounds} round${options.rounds === 1 ? '' : 's'} of ${options.duration} s after ${options.warmup} s of warm-up, autocannon in its own process. ` +
      `Ceiling: a bare node:http + pg server running the same SQL and JSON; ratio = app req/s ÷ ceiling req/s, measured back to back in each round. ` +
      `CPU ms/req: the server process's CPU time (user + system) per response, app / ceiling. RSS: the app's peak during the run.${errors.length ? ' ⚠ = some responses had an unexpected status, or failed.' : ''}`,
    '',
    markdownTable(rows),
    '',
    ...suites.flatMap((s) => (s.markdown ? [s.markdown.trimEnd(), ''] : [])),
  ].join('\n');
  writeFileSync(join(RESULTS, 'latest.md'), markdown);
  writeFileSync(
    join(RESULTS, 'latest.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        command,
        machine,
        share,
        options,
        data: { ...fixture, ...seed },
        parity,
        rows,
        measurements,
        ...Object.fromEntries(suites.map((s) => [s.name, s.result])),
      },
      null,
      2,
    ),
  );
  log(`wrote bench/results/latest.md and latest.json`);
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
