import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface AppConfig {
  port: number;
  /** Unset means: start the embedded PostgreSQL under `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  embeddedPgPort: number;
  jwt: { secret: string; issuer?: string; audience?: string };
  migrate: boolean;
  bodyLimitBytes: number;
  logLevel: LogLevel;
  defaultOrgConcurrencyLimit: number;
  dbPoolSize: number;
  /** How long the event log keeps events (`EVENT_RETENTION_HOURS`). */
  eventRetentionHours: number;
  /** How long a SIGTERM waits for requests in flight before cutting them (`SHUTDOWN_TIMEOUT_MS`). */
  shutdownTimeoutMs: number;
  /** Longest an API statement may run before PostgreSQL cancels it (503). */
  dbStatementTimeoutMs: number;
  /** Longest a request waits for a pooled connection (503 past it). */
  dbPoolAcquireTimeoutMs: number;
  /** Time to receive a whole request, and its headers; responses (long-polls, SSE) are not bounded by these. */
  http: { requestTimeoutMs: number; headersTimeoutMs: number };
  /** Token buckets per organization and per credential; null when `RATE_LIMIT_RPS` is unset. */
  rateLimit: RateLimitConfig | null;
  /** `METRICS_TOKEN`: when set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** `DB_PREPARED_STATEMENTS=false` behind a transaction-mode pooler (PgBouncer before 1.21). */
  dbPreparedStatements: boolean;
  /** `DATABASE_DIRECT_URL`: PostgreSQL itself, for LISTEN and the migration lock, when DATABASE_URL is a pooler. */
  databaseDirectUrl?: string;
  /** `RETENTION_SWEEP_INTERVAL_S`: how often each replica deletes executions past their flow's TTL. */
  retentionSweepIntervalSeconds: number;
  /** `LIVENESS_SWEEP_INTERVAL_MS`: how often each replica fires the timeouts that are due (docs/operations.md#liveness). */
  livenessSweepIntervalMs: number;
  /** `NODE_ENV=production`: nothing but JSON lines on stdout, and no demo credential printed. */
  production: boolean;
  /** How long an `Idempotency-Key` answer is kept and replayed (`IDEMPOTENCY_TTL_HOURS`). */
  idempotencyTtlHours: number;
  /**
   * Test only (`FAULT_AFTER_COMMIT`, ignored when `NODE_ENV=production`): an idempotent request that
   * owns its key, once its work has committed and before its answer is stored or sent, `exit`s the
   * process (SIGKILL) or `drop`s the connection and never answers. Proves a retry replays the outcome.
   */
  faultAfterCommit: 'exit' | 'drop' | null;
  /** Webhook delivery (`WEBHOOK_*`). */
  webhooks: WebhooksConfig;
  /** `FLOW_ANALYSIS_CACHE_SIZE`: flow versions' analyses (and flows' latest versions) each process keeps. */
  flowAnalysisCacheSize: number;
  /** JSON bodies of at least this many characters are parsed and checked on a worker thread (docs/api.md#event-loop-budget). */
  jsonWorker: { minChars: number; threads: number };
  /** Open SSE streams plus held long-polls, per process (`HELD_REQUESTS_PER_ORG`, `HELD_REQUESTS_PER_CREDENTIAL`). */
  heldRequests: { perOrganization: number; perCredential: number };
  /** Fair admission per process (`ADMISSION_*`); null when `ADMISSION_CONCURRENCY=0`. */
  admission: AdmissionConfig | null;
  /** Bulk actions (`BULK_ACTION*`, docs/operations.md#bulk-actions). */
  bulkActions: BulkActionsConfig;
}

export interface AdmissionConfig {
  /** Cost units served at once (`ADMISSION_CONCURRENCY`): a request costs 1, a list 1 per 100 rows asked for. */
  concurrency: number;
  /** Cost units one organization may have in use at once (`ADMISSION_ORG_CONCURRENCY`): the rest stays free for the others. */
  organizationConcurrency: number;
  /** Requests waiting at once, all organizations (`ADMISSION_QUEUE`): past it, 503. */
  queue: number;
  /** Requests of one organization waiting at once (`ADMISSION_ORG_QUEUE`): past it, 429. */
  organizationQueue: number;
  /** Longest wait for a slot (`ADMISSION_QUEUE_TIMEOUT_MS`): past it, 503. */
  queueTimeoutMs: number;
  /** Event-loop utilization past which, with organizations contending, their budget shrinks (`ADMISSION_LOOP_UTILIZATION`); 0: fixed. */
  loopUtilization: number;
}

export interface BulkActionsConfig {
  /** Run the bulk action worker in this process (`BULK_ACTION_WORKER`); every replica does by default. */
  worker: boolean;
  /** Runs acted on per transaction (`BULK_ACTION_BATCH_SIZE`). */
  batchSize: number;
  /** Queued or running bulk actions an organization may have at once (`BULK_ACTIONS_PER_ORG`). */
  perOrganization: number;
  /** Runs one bulk action may match (`BULK_ACTION_MAX_RUNS`). */
  maxRuns: number;
}

export interface RateLimitConfig {
  organization: { rps: number; burst: number };
  credential: { rps: number; burst: number };
}

export interface WebhooksConfig {
  /** Run the delivery worker in this process (`WEBHOOK_WORKER`); every replica does by default. */
  worker: boolean;
  /** Per attempt, connect to end of response (`WEBHOOK_TIMEOUT_MS`). */
  timeoutMs: number;
  /** The first retry's delay, doubled for each next one (`WEBHOOK_RETRY_BASE_MS`). */
  retryBaseMs: number;
  /** How long a message is retried, and how long an endpoint may fail before it is disabled (`WEBHOOK_RETRY_WINDOW_MS`). */
  retryWindowMs: number;
  /** Consecutive failed messages that disable an endpoint (`WEBHOOK_DISABLE_AFTER`). */
  disableAfter: number;
  /** Requests in flight per process (`WEBHOOK_CONCURRENCY`) and per endpoint per process (`WEBHOOK_ENDPOINT_CONCURRENCY`). */
  concurrency: number;
  endpointConcurrency: number;
  /** Loopback, private and link-local targets: development and tests only (`WEBHOOK_ALLOW_PRIVATE_URLS`). */
  allowPrivateUrls: boolean;
  /** Webhooks an organization may register (`WEBHOOKS_PER_ORG`). */
  perOrganization: number;
  /** Attempts in flight per organization per process (`WEBHOOK_ORG_CONCURRENCY`). */
  organizationConcurrency: number;
}

export class ConfigError extends Error {}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const BOOLEAN_WORDS: Record<string, boolean> = { true: true, '1': true, yes: true, false: false, '0': false, no: false };

/**
 * Reads and validates the environment once, at boot. Every bad variable is named in one message;
 * nothing outside this folder reads `process.env`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const problems: string[] = [];

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = BOOLEAN_WORDS[raw.toLowerCase()];
    if (value === undefined) problems.push(`${name} must be true or false, got "${raw}"`);
    return value ?? fallback;
  };

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// connection string');
  }
  const databaseDirectUrl = env.DATABASE_DIRECT_URL || undefined;
  if (databaseDirectUrl && !/^postgres(ql)?:\/\//.test(databaseDirectUrl)) {
    problems.push('DATABASE_DIRECT_URL must be a postgres:// or postgresql:// connection string');
  }
  if (databaseDirectUrl && !databaseUrl) problems.push('DATABASE_DIRECT_URL needs DATABASE_URL');
  const metricsToken = env.METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && metricsToken.length < 16) problems.push('METRICS_TOKEN must be at least 16 characters');
  const jwtSecret = env.JWT_SECRET || undefined;
  if (jwtSecret !== undefined && jwtSecret.length < 32) problems.push('JWT_SECRET must be at least 32 characters');
  if (databaseUrl && jwtSecret === undefined) problems.push('JWT_SECRET is required when DATABASE_URL is set');

  const logLevel = (env.LOG_LEVEL || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const config: AppConfig = {
    port: integer('PORT', 3000, 0, 65535),
    databaseUrl,
    dataDir: resolve(env.DATA_DIR || 'data'),
    embeddedPgPort: integer('EMBEDDED_PG_PORT', 54329, 1, 65535),
    jwt: { secret: jwtSecret ?? '', issuer: env.JWT_ISSUER || undefined, audience: env.JWT_AUDIENCE || undefined },
    migrate: boolean('DB_MIGRATE', true),
    bodyLimitBytes: integer('BODY_LIMIT', 1024 * 1024, 1024, 100 * 1024 * 1024),
    logLevel,
    defaultOrgConcurrencyLimit: integer('DEFAULT_ORG_CONCURRENCY_LIMIT', 10, 1, 100000),
    dbPoolSize: integer('DB_POOL_SIZE', 20, 1, 500),
    eventRetentionHours: integer('EVENT_RETENTION_HOURS', 168, 1, 24 * 365 * 10),
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    dbStatementTimeoutMs: integer('DB_STATEMENT_TIMEOUT_MS', 5000, 1, 3_600_000),
    dbPoolAcquireTimeoutMs: integer('DB_POOL_ACQUIRE_TIMEOUT_MS', 2000, 1, 600_000),
    http: {
      requestTimeoutMs: integer('HTTP_REQUEST_TIMEOUT_MS', 30_000, 1000, 3_600_000),
      headersTimeoutMs: integer('HTTP_HEADERS_TIMEOUT_MS', 10_000, 1000, 3_600_000),
    },
    rateLimit: null,
    admission: null,
    metricsToken,
    dbPreparedStatements: boolean('DB_PREPARED_STATEMENTS', true),
    databaseDirectUrl,
    retentionSweepIntervalSeconds: integer('RETENTION_SWEEP_INTERVAL_S', 60, 1, 86400),
    livenessSweepIntervalMs: integer('LIVENESS_SWEEP_INTERVAL_MS', 1000, 10, 600_000),
    production: env.NODE_ENV === 'production',
    idempotencyTtlHours: integer('IDEMPOTENCY_TTL_HOURS', 24, 1, 24 * 365),
    faultAfterCommit: env.NODE_ENV !== 'production' && (env.FAULT_AFTER_COMMIT === 'exit' || env.FAULT_AFTER_COMMIT === 'drop') ? env.FAULT_AFTER_COMMIT : null,
    flowAnalysisCacheSize: integer('FLOW_ANALYSIS_CACHE_SIZE', 1000, 1, 1_000_000),
    jsonWorker: {
      minChars: integer('JSON_WORKER_MIN_BYTES', 65_536, 1024, 100 * 1024 * 1024),
      threads: integer('JSON_WORKER_THREADS', 2, 1, 64),
    },
    webhooks: {
      worker: boolean('WEBHOOK_WORKER', true),
      timeoutMs: integer('WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
      retryBaseMs: integer('WEBHOOK_RETRY_BASE_MS', 5_000, 1, 3_600_000),
      retryWindowMs: integer('WEBHOOK_RETRY_WINDOW_MS', 86_400_000, 1_000, 30 * 86_400_000),
      disableAfter: integer('WEBHOOK_DISABLE_AFTER', 100, 1, 1_000_000),
      concurrency: integer('WEBHOOK_CONCURRENCY', 32, 1, 1_000),
      endpointConcurrency: integer('WEBHOOK_ENDPOINT_CONCURRENCY', 4, 1, 100),
      allowPrivateUrls: boolean('WEBHOOK_ALLOW_PRIVATE_URLS', false),
      perOrganization: integer('WEBHOOKS_PER_ORG', 50, 1, 100_000),
      organizationConcurrency: integer('WEBHOOK_ORG_CONCURRENCY', 8, 1, 1_000),
    },
    heldRequests: {
      perOrganization: integer('HELD_REQUESTS_PER_ORG', 1000, 1, 1_000_000),
      perCredential: integer('HELD_REQUESTS_PER_CREDENTIAL', 200, 1, 1_000_000),
    },
    bulkActions: {
      worker: boolean('BULK_ACTION_WORKER', true),
      batchSize: integer('BULK_ACTION_BATCH_SIZE', 100, 1, 10_000),
      perOrganization: integer('BULK_ACTIONS_PER_ORG', 5, 1, 1_000),
      maxRuns: integer('BULK_ACTION_MAX_RUNS', 100_000, 1, 10_000_000),
    },
  };

  /** A decimal number that `fits`; `expected` completes "must be a number …" when it does not. */
  const decimal = (name: string, fallback: number, fits: (value: number) => boolean, expected: string): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || !fits(value)) {
      problems.push(`${name} must be a number ${expected}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const fraction = (name: string, fallback: number) => decimal(name, fallback, (v) => v >= 0 && v <= 1, 'from 0 to 1');
  const positive = (name: string, fallback: number, max: number) => decimal(name, fallback, (v) => v > 0 && v <= max, `above 0 and at most ${max}`);
  const rateSet = (env.RATE_LIMIT_RPS ?? '') !== '';
  if (!rateSet) {
    for (const name of ['RATE_LIMIT_BURST', 'RATE_LIMIT_CREDENTIAL_RPS', 'RATE_LIMIT_CREDENTIAL_BURST']) {
      if ((env[name] ?? '') !== '') problems.push(`${name} needs RATE_LIMIT_RPS`);
    }
  }
  const rps = positive('RATE_LIMIT_RPS', 1, 1_000_000);
  const burst = integer('RATE_LIMIT_BURST', Math.max(1, Math.ceil(rps)), 1, 10_000_000);
  const credentialRps = positive('RATE_LIMIT_CREDENTIAL_RPS', rps, 1_000_000);
  const credentialBurst = integer('RATE_LIMIT_CREDENTIAL_BURST', Math.max(1, Math.ceil(credentialRps)), 1, 10_000_000);
  config.rateLimit = rateSet ? { organization: { rps, burst }, credential: { rps: credentialRps, burst: credentialBurst } } : null;
  const admissionConcurrency = integer('ADMISSION_CONCURRENCY', 32, 0, 100_000);
  const admissionQueue = integer('ADMISSION_QUEUE', 1000, 1, 1_000_000);
  const admission = {
    concurrency: admissionConcurrency,
    organizationConcurrency: integer('ADMISSION_ORG_CONCURRENCY', Math.max(1, Math.ceil(admissionConcurrency / 2)), 1, 100_000),
    queue: admissionQueue,
    organizationQueue: integer('ADMISSION_ORG_QUEUE', Math.min(200, admissionQueue), 1, 1_000_000),
    queueTimeoutMs: integer('ADMISSION_QUEUE_TIMEOUT_MS', 10_000, 100, 600_000),
    loopUtilization: fraction('ADMISSION_LOOP_UTILIZATION', 0.9),
  };
  if (admission.organizationQueue > admission.queue) problems.push('ADMISSION_ORG_QUEUE must not exceed ADMISSION_QUEUE');
  if (admissionConcurrency > 0 && admission.organizationConcurrency > admissionConcurrency) {
    problems.push('ADMISSION_ORG_CONCURRENCY must not exceed ADMISSION_CONCURRENCY');
  }
  config.admission = admissionConcurrency > 0 ? admission : null;
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    problems.push('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS');
  }

  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  return config;
}

/** The embedded mode keeps a generated JWT secret beside its data, so tokens survive restarts. */
export function ensureLocalJwtSecret(config: AppConfig): AppConfig {
  if (config.jwt.secret) return config;
  mkdirSync(config.dataDir, { recursive: true });
  const file = join(config.dataDir, 'jwt-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return { ...config, jwt: { ...config.jwt, secret: readFileSync(file, 'utf8').trim() } };
}

/** Injection token for the validated `AppConfig`. */
export const APP_CONFIG = Symbol('APP_CONFIG');
