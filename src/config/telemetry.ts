/**
 * Tracing is on when the standard OpenTelemetry endpoint variable is set (docs/operations.md#tracing).
 * Read apart from loadConfig: it is decided before anything else loads, and the SDK reads the
 * other `OTEL_*` variables itself.
 */
export interface TracingConfig {
  /** `service.name` when `OTEL_SERVICE_NAME` does not set one. */
  serviceName: string | undefined;
}

export const DEFAULT_SERVICE_NAME = 'flow-execution-service';

/** Null (tracing off) unless `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set and `OTEL_SDK_DISABLED` is not `true`. */
export function tracingConfig(env: NodeJS.ProcessEnv = process.env): TracingConfig | null {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (!endpoint || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  return { serviceName: env.OTEL_SERVICE_NAME?.trim() ? undefined : DEFAULT_SERVICE_NAME };
}
