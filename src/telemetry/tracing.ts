import type { IncomingMessage } from 'node:http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { TracingConfig } from '../config/telemetry';

export interface Tracing {
  /** Exports the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

// Load balancers' probes and the metrics scrape would be most of the spans and tell nothing.
const UNTRACED = /^\/(health\/|metrics(\?|$))/;

/**
 * The OpenTelemetry SDK with the spans of the HTTP server and of PostgreSQL, exported over OTLP
 * http/json (docs/operations.md#tracing). Started before anything loads `http` or `pg`, which it
 * patches as they load. The W3C propagator makes an incoming `traceparent` the server span's parent.
 */
export function startTracing(config: TracingConfig): Tracing {
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    traceExporter: new OTLPTraceExporter(),
    // Traces only: metrics are Prometheus's (/metrics), logs are the JSON lines on stdout.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request: IncomingMessage) => UNTRACED.test(request.url ?? ''),
        // Outgoing requests are webhook deliveries: they carry their run's own trace context (docs/api.md#trace-context).
        disableOutgoingRequestInstrumentation: true,
      }),
      // Only statements under a request's span (the background loops' polls would be orphan traces);
      // a pool checkout is no statement, and its span would double their number.
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
    ],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
