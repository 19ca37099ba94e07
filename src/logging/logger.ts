import type { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/** Injection token for the process's pino logger. */
export const LOGGER = Symbol('LOGGER');

/**
 * Wherever a credential could sit in a logged object; request headers are never logged either.
 * pino's paths match exact keys at a depth, so each is listed at the depths objects are logged.
 */
const REDACT = ['authorization', 'x-api-key', 'token', 'api_key', 'secret', 'webhook_secret', 'password', 'jwt_secret', 'metrics_token']
  .flatMap((key) => [`["${key}"]`, `*["${key}"]`, `*.*["${key}"]`, `*.headers["${key}"]`])
  .concat(
    // A failed query's parameters (TypeORM puts them on the error) may hold webhook secrets.
    ['err.parameters', 'err.driverError.parameters'],
  );

/** JSON lines on stdout, secrets censored. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/** An error nobody caught becomes one fatal JSON line (with its stack in `err`), then the process exits. */
export function logUncaughtErrors(logger: Logger): void {
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection');
    process.exit(1);
  });
}

/** Nest's own messages (startup, errors it logs itself) as JSON lines of the same logger. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
