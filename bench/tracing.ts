import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BenchContext, ms, suite } from './context';
import type { Measurement } from './report';

/** GET by id on the same data and machine, without tracing and with every request traced and exported. */
export interface TracingRow {
  connections: number;
  plain: { rps: number; p50: number; p99: number; cpuMsPerRequest: number | null };
  traced: { rps: number; p50: number; p99: number; cpuMsPerRequest: number | null };
}

export interface TracingResults {
  rows: TracingRow[];
  /** What the sink received from the traced server over the whole run. */
  exports: number;
  exportedBytes: number;
}

/** An OTLP/HTTP sink on 127.0.0.1: answers every export 200 at once and counts them. */
export class OtlpSink {
  exports = 0;
  bytes = 0;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpSink> {
    let sink!: OtlpSink;
    const server = createServer((req, res) => {
      req.on('data', (chunk: Buffer) => (sink.bytes += chunk.length));
      req.on('end', () => {
        sink.exports++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    sink = new OtlpSink(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return sink;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export function tracingMarkdown(results: TracingResults, rounds: number): string {
  const ms = (n: number | null) => (n === null ? '–' : n.toFixed(2));
  const lines = [
    '### GET by id with and without tracing',
    '',
    `Two app processes side by side on the same database, one with \`OTEL_EXPORTER_OTLP_ENDPOINT\` set (every request traced: a server span and its PostgreSQL spans, ` +
      `exported over OTLP http/json to a local sink that answers at once), measured back to back in each round, who goes first alternating; medians of ${rounds} round${rounds === 1 ? '' : 's'}. ` +
      `The sink received ${results.exports.toLocaleString('en')} exports, ${(results.exportedBytes / 2 ** 20).toFixed(1)} MiB.`,
    '',
    '| connections | without: req/s | p50 ms | p99 ms | CPU ms/req | with: req/s | p50 ms | p99 ms | CPU ms/req | with ÷ without req/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.rows.map(
      (r) =>
        `| ${r.connections} | ${r.plain.rps.toFixed(0)} | ${ms(r.plain.p50)} | ${ms(r.plain.p99)} | ${ms(r.plain.cpuMsPerRequest)} | ` +
        `${r.traced.rps.toFixed(0)} | ${ms(r.traced.p50)} | ${ms(r.traced.p99)} | ${ms(r.traced.cpuMsPerRequest)} | ${(r.traced.rps / r.plain.rps).toFixed(2)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * What tracing costs the hot read: GET by id on the main server (tracing off: nothing of
 * OpenTelemetry loaded) and on a second one with OTEL_EXPORTER_OTLP_ENDPOINT set, every request
 * traced and exported to a local sink, back to back at each connection count.
 */
async function benchTracing(ctx: BenchContext): Promise<TracingResults> {
  const { options, log } = ctx;
  const getById = ctx.scenarios.find((s) => s.key === 'get')!;
  const sink = await OtlpSink.start();
  const traced = await ctx.startApp('app-otel', { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url });
  try {
    const runs = new Map<number, { plain: Omit<Measurement, 'round'>[]; traced: Omit<Measurement, 'round'>[] }>();
    for (let round = 1; round <= options.rounds; round++) {
      for (const connections of options.connections) {
        const both = runs.get(connections) ?? { plain: [], traced: [] };
        runs.set(connections, both);
        const order = round % 2 ? (['plain', 'traced'] as const) : (['traced', 'plain'] as const);
        for (const which of order) both[which].push(await ctx.measure(which === 'plain' ? ctx.app : traced, getById, connections));
        const [p, t] = [both.plain[both.plain.length - 1], both.traced[both.traced.length - 1]];
        log(
          `otel round ${round}/${options.rounds} get c=${connections}: without ${p.requestsPerSecond.toFixed(0)} req/s p50 ${ms(p.p50)} p99 ${ms(p.p99)} | ` +
            `with ${t.requestsPerSecond.toFixed(0)} req/s p50 ${ms(t.p50)} p99 ${ms(t.p99)}${p.errors + t.errors ? ` ERRORS ${p.errors + t.errors}` : ''}`,
        );
      }
    }
    const summary = (list: Omit<Measurement, 'round'>[]) => ({
      rps: median(list.map((m) => m.requestsPerSecond)),
      p50: median(list.map((m) => m.p50 ?? 0)),
      p99: median(list.map((m) => m.p99 ?? 0)),
      cpuMsPerRequest: list.every((m) => m.cpuMsPerRequest !== null) ? median(list.map((m) => m.cpuMsPerRequest!)) : null,
    });
    const rows: TracingRow[] = [...runs].map(([connections, both]) => ({ connections, plain: summary(both.plain), traced: summary(both.traced) }));
    await traced.stop(); // its last spans are flushed at SIGTERM
    return { rows, exports: sink.exports, exportedBytes: sink.bytes };
  } finally {
    await traced.stop();
    await sink.close();
  }
}

/** `--only otel`. */
export const otelSuite = suite({
  name: 'otel',
  run: benchTracing,
  markdown: (result: TracingResults, ctx: BenchContext) => tracingMarkdown(result, ctx.options.rounds),
});
