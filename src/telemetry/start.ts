import { tracingConfig } from '../config/telemetry';
import type { Tracing } from './tracing';

/**
 * Imported first by main.ts: with tracing configured, the SDK starts before Nest, `http` or `pg`
 * load; without it, nothing of OpenTelemetry is loaded at all (docs/operations.md#tracing).
 */
const config = tracingConfig();
export const tracing: Tracing | null = config
  ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load, and it must be synchronous: it has to patch modules before they load
    (require('./tracing') as typeof import('./tracing')).startTracing(config)
  : null;
