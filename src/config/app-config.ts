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
  webhooks: WebhooksConfig;
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
    webhooks: {
      worker: boolean('WEBHOOK_WORKER', true),
      timeoutMs: integer('WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
      retryBaseMs: integer('WEBHOOK_RETRY_BASE_MS', 5_000, 1, 3_600_000),
      retryWindowMs: integer('WEBHOOK_RETRY_WINDOW_MS', 86_400_000, 1_000, 30 * 86_400_000),
      disableAfter: integer('WEBHOOK_DISABLE_AFTER', 100, 1, 1_000_000),
      concurrency: integer('WEBHOOK_CONCURRENCY', 32, 1, 1_000),
      endpointConcurrency: integer('WEBHOOK_ENDPOINT_CONCURRENCY', 4, 1, 100),
      allowPrivateUrls: boolean('WEBHOOK_ALLOW_PRIVATE_URLS', false),
    },
  };

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
