import type { LoadResult } from './load';
import type { Scenario } from './scenarios';

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
