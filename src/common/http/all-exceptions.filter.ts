import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Inject } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { LOGGER } from '../../logging/logger';
import { AppError, ErrorCode } from '../errors/app-error';
import { RequestValidationError } from '../validation/validation-error';
import { requestIdOf } from './request-id';

const HTTP_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_error',
  429: 'rate_limited',
  503: 'service_unavailable',
};

// SQLSTATE classes 08 (connection exception) and 57P (operator intervention), and socket errors.
const UNREACHABLE = /^(08|57P0[1-3])|^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/;
// SQLSTATE class 22 (data exception: a value PostgreSQL cannot store or compare) and 54000 (a value too large for an index).
const UNSTORABLE = /^(22[0-9A-Z]{3}|54000)$/;
const RETRY_AFTER_SECONDS = '1';

/** Renders every error as the envelope; the log keeps what the client must not see. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const error = this.toAppError(exception, req);

    if (error.code === 'internal_error' || error.code === 'service_unavailable') {
      this.logger.error({ err: exception, reqId: requestIdOf(req) }, 'request failed');
    } else if (error instanceof UnstorableValueError) {
      this.logger.warn({ err: exception, reqId: requestIdOf(req) }, 'the database refused a value of the request');
    }
    const body: Record<string, unknown> = {
      error: { message: error.message, code: error.code, details: error.details },
      request_id: requestIdOf(req),
    };
    if (error instanceof RequestValidationError) body.detail = error.issues;
    if (res.headersSent) return;
    if (error instanceof MethodNotAllowedError) res.setHeader('Allow', error.allow.join(', '));
    if (error.code === 'service_unavailable' && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', RETRY_AFTER_SECONDS);
    const retryAfter = (error.details as { retry_after?: unknown } | null)?.retry_after;
    if (error.code === 'rate_limited' && typeof retryAfter === 'number' && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', String(retryAfter));
    res.status(error.status).json(body);
  }

  private toAppError(exception: unknown, req: Request): AppError {
    if (exception instanceof AppError) return exception;
    if (exception instanceof HttpException) return this.fromHttpException(exception, req);
    if (isBodyParserError(exception)) {
      if (exception.status === HttpStatus.PAYLOAD_TOO_LARGE) return new AppError('payload_too_large', 'Request body is too large');
      // An unsupported charset or content encoding.
      if (exception.status === HttpStatus.UNSUPPORTED_MEDIA_TYPE) return new AppError('unsupported_media_type', exception.message);
      return new AppError('bad_request', exception.type === 'entity.parse.failed' ? 'Request body is not valid JSON' : exception.message);
    }
    const overload = databaseOverload(exception);
    if (overload) return new AppError('service_unavailable', overload);
    if (isDatabaseUnreachable(exception)) {
      return new AppError('service_unavailable', 'The database is unavailable, try again shortly');
    }
    // Validation keeps such values out; this is the net under it, without the driver's words.
    if (hasSqlState(exception, UNSTORABLE)) return new UnstorableValueError();
    return new AppError('internal_error', 'Internal server error');
  }

  private fromHttpException(exception: HttpException, req: Request): AppError {
    const status = exception.getStatus();
    const code = HTTP_STATUS_CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
    switch (status) {
      case HttpStatus.NOT_FOUND: {
        const allow = this.methodsServing(req.path);
        if (allow.length > 0) return new MethodNotAllowedError(req.method, req.path, allow);
        return new AppError(code, `Route ${req.method} ${req.path} not found`);
      }
      case HttpStatus.PAYLOAD_TOO_LARGE:
        return new AppError(code, 'Request body is too large');
      case HttpStatus.BAD_REQUEST:
        // Nest maps body-parser's SyntaxError and the router's URIError (a path parameter such as '%FF') to a plain 400.
        return /^Failed to decode param/.test(exception.message)
          ? new AppError(code, 'The path holds a malformed percent-encoding')
          : new AppError(code, 'Request body is not valid JSON');
      case HttpStatus.SERVICE_UNAVAILABLE:
        return new AppError(code, 'The service is unavailable, try again shortly');
      default:
        return new AppError(code, status >= 500 ? 'Internal server error' : exception.message);
    }
  }

  /** The methods the router serves on this path (HEAD with GET, as Express answers it); empty for an unknown path. */
  private methodsServing(path: string): string[] {
    const router = (this.adapterHost.httpAdapter?.getInstance() as { router?: { stack: RouterLayer[] } } | undefined)?.router;
    const methods = new Set<string>();
    for (const layer of router?.stack ?? []) {
      if (!layer.route || !layer.match(path)) continue;
      for (const [method, served] of Object.entries(layer.route.methods)) if (served && method !== '_all') methods.add(method.toUpperCase());
    }
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  }
}

interface RouterLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): unknown;
}

class MethodNotAllowedError extends AppError {
  constructor(
    method: string,
    path: string,
    readonly allow: string[],
  ) {
    super('method_not_allowed', `Method ${method} not allowed on ${path}; allowed: ${allow.join(', ')}`);
  }
}

class UnstorableValueError extends AppError {
  constructor() {
    super('bad_request', 'The request holds a value that cannot be stored (e.g. a NUL character or a number out of range)');
  }
}

/** body-parser's errors (http-errors): client faults whose message is safe to show. */
function isBodyParserError(e: unknown): e is { status: number; type: string; message: string } {
  const { status, expose, type } = (e ?? {}) as { status?: unknown; expose?: unknown; type?: unknown };
  return typeof status === 'number' && status >= 400 && status < 500 && expose === true && typeof type === 'string';
}

function hasSqlState(exception: unknown, pattern: RegExp): boolean {
  const { code } = ((exception as { driverError?: unknown })?.driverError ?? exception ?? {}) as { code?: unknown };
  return typeof code === 'string' && pattern.test(code);
}

/** A statement cancelled by statement_timeout (57014), or no pooled connection within the acquire timeout. */
function databaseOverload(exception: unknown): string | null {
  const { driverError, code, message } = (exception ?? {}) as { driverError?: { code?: unknown }; code?: unknown; message?: unknown };
  if ((driverError?.code ?? code) === '57014') return 'The request took too long and was cancelled, try again shortly';
  // pg-pool's text for a request that waited connectionTimeoutMillis for a connection.
  if (typeof message === 'string' && message.startsWith('timeout exceeded when trying to connect')) {
    return 'The service is busy, try again shortly';
  }
  return null;
}

function isDatabaseUnreachable(exception: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = exception;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const { code, message, name } = current as { code?: unknown; message?: unknown; name?: unknown };
    if (typeof code === 'string' && UNREACHABLE.test(code)) return true;
    // TypeORM's query runner, released when its connection died mid-transaction (nothing was committed).
    if (name === 'QueryRunnerAlreadyReleasedError' || name === 'QueryRunnerProviderAlreadyReleasedError') return true;
    if (
      typeof message === 'string' &&
      /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|the database system is (starting|shutting) up/i.test(
        message,
      )
    ) {
      return true;
    }
    current = (current as { driverError?: unknown; cause?: unknown }).driverError ?? (current as { cause?: unknown }).cause;
  }
  return false;
}
