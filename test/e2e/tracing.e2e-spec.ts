import { execFile } from 'node:child_process';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { definitionOf, LINEAR_TASKS } from '../factories/flows';
import { ServerProcess, startServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';

jest.setTimeout(120_000);

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  scope: string;
}

const SERVER = 2; // SPAN_KIND_SERVER in OTLP
const CLIENT = 3;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CREATE_PARENT = '00f067aa0ba902b7';
const READ_PARENT = 'b7ad6b7169203331';

/** A tiny OTLP/HTTP collector: takes http/json trace exports on /v1/traces and keeps their spans. */
class OtlpCollector {
  readonly spans: OtlpSpan[] = [];
  readonly contentTypes: string[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpCollector> {
    let collector!: OtlpCollector;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
        collector.contentTypes.push(req.headers['content-type'] ?? '');
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: { scopeSpans: { scope: { name: string }; spans: Omit<OtlpSpan, 'scope'>[] }[] }[];
        };
        for (const resource of body.resourceSpans)
          for (const scope of resource.scopeSpans) for (const span of scope.spans) collector.spans.push({ ...span, scope: scope.scope.name });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    collector = new OtlpCollector(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return collector;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const attribute = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value;

describe('tracing with OpenTelemetry (docs/operations.md#tracing)', () => {
  let collector: OtlpCollector;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    collector = await OtlpCollector.start();
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await collector.close();
  });

  it('exports the server span and the PostgreSQL spans of a request under its traceparent, flushed at SIGTERM', async () => {
    // A schedule delay far beyond the test: the spans can only arrive through the flush at shutdown.
    server = await startServerProcess({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: '600000' });
    await waitUntilReady(server);
    const http = () => request(server!.url);
    const org = await newOrg();
    const flow = await http()
      .post('/api/flows')
      .set(org.auth())
      .send({ display_name: 'traced', definition: definitionOf(LINEAR_TASKS) })
      .expect(201);
    const created = await http()
      .post('/api/flow-executions')
      .set(org.auth())
      .set('traceparent', `00-${TRACE_ID}-${CREATE_PARENT}-01`)
      .send({ flow_id: flow.body.id, input: { file_key: 'a.pdf' } })
      .expect(201);
    await http().get(`/api/flow-executions/${created.body.id}`).set(org.auth()).set('traceparent', `00-${TRACE_ID}-${READ_PARENT}-01`).expect(200);
    expect(collector.spans).toEqual([]);

    expect(await server.stop('SIGTERM')).toBe(0);
    expect(collector.contentTypes.every((type) => type.startsWith('application/json'))).toBe(true);
    const traced = collector.spans.filter((s) => s.traceId === TRACE_ID);

    // The callers' spans are the parents of the server spans, one per request.
    const servers = traced.filter((s) => s.kind === SERVER && s.scope === '@opentelemetry/instrumentation-http');
    expect(servers.map((s) => s.parentSpanId).sort()).toEqual([CREATE_PARENT, READ_PARENT].sort());
    const readSpan = servers.find((s) => s.parentSpanId === READ_PARENT)!;
    expect(JSON.stringify(readSpan.attributes)).toContain(`/api/flow-executions/${created.body.id}`);

    // PostgreSQL statements run under them, in the same trace.
    const pg = traced.filter((s) => s.kind === CLIENT && s.scope === '@opentelemetry/instrumentation-pg');
    expect(pg.length).toBeGreaterThan(0);
    expect(pg.some((s) => attribute(s, 'db.system')?.stringValue === 'postgresql' || attribute(s, 'db.system.name')?.stringValue === 'postgresql')).toBe(true);
    const ids = new Set(traced.map((s) => s.spanId));
    expect(pg.every((s) => s.parentSpanId && ids.has(s.parentSpanId))).toBe(true);

    // Probes are not traced; neither is anything outside a request (background polls would be orphan traces).
    expect(collector.spans.filter((s) => JSON.stringify(s.attributes).includes('/health/'))).toEqual([]);
    expect(collector.spans.filter((s) => !s.parentSpanId && s.kind !== SERVER)).toEqual([]);
  });

  it('loads nothing of OpenTelemetry when OTEL_EXPORTER_OTLP_ENDPOINT is unset', async () => {
    const { OTEL_EXPORTER_OTLP_ENDPOINT: _, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: __, ...env } = process.env;
    const script = `require('./src/telemetry/start'); require('pg'); require('node:http');
      console.log(JSON.stringify(Object.keys(require.cache).filter((path) => path.includes('@opentelemetry'))));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: join(__dirname, '..', '..'),
      env,
    });
    expect(JSON.parse(stdout)).toEqual([]);
  });
});
