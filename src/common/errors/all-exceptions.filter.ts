import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Inject } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logger';
import { AppError, ErrorCode } from './app-error';
import { RequestValidationError } from '../validation/validation-error';
import { requestIdOf } from '../http/request-id';

const HTTP_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  422: 'validation_error',
  429: 'rate_limited',
  503: 'service_unavailable',
};

const RETRY_AFTER_SECONDS = 1;

// SQLSTATE classes 08 (connection exception) and 57P (operator intervention), and socket errors.
const UNREACHABLE = /^(08|57P0[1-3])|^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/;

/** Renders every error as the envelope; the log keeps what the client must not see. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const error = this.toAppError(exception, req);

    if (error.code === 'internal_error' || error.code === 'service_unavailable') {
      this.logger.error({ err: exception, reqId: requestIdOf(req) }, 'request failed');
    }
    const body: Record<string, unknown> = {
      error: { message: error.message, code: error.code, details: error.details },
      request_id: requestIdOf(req),
    };
    if (error instanceof RequestValidationError) body.detail = error.issues;
    if (res.headersSent) return;
    // A 503 is transient by definition (outage, overload, a cancelled slow query): say when to come back.
    if (error.code === 'service_unavailable' && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(error.status).json(body);
  }

  private toAppError(exception: unknown, req: Request): AppError {
    if (exception instanceof AppError) return exception;
    if (exception instanceof HttpException) return this.fromHttpException(exception, req);
    if (isBodyParserError(exception)) {
      return exception.status === HttpStatus.PAYLOAD_TOO_LARGE
        ? new AppError('payload_too_large', 'Request body is too large')
        : new AppError('bad_request', exception.type === 'entity.parse.failed' ? 'Request body is not valid JSON' : exception.message);
    }
    const overload = databaseOverload(exception);
    if (overload) return new AppError('service_unavailable', overload);
    if (isDatabaseUnreachable(exception)) {
      return new AppError('service_unavailable', 'The database is unavailable, try again shortly');
    }
    return new AppError('internal_error', 'Internal server error');
  }

  private fromHttpException(exception: HttpException, req: Request): AppError {
    const status = exception.getStatus();
    const code = HTTP_STATUS_CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
    switch (status) {
      case HttpStatus.NOT_FOUND:
        return new AppError(code, `Route ${req.method} ${req.path} not found`);
      case HttpStatus.PAYLOAD_TOO_LARGE:
        return new AppError(code, 'Request body is too large');
      case HttpStatus.BAD_REQUEST:
        // Nest maps body-parser's SyntaxError to a plain 400; its text is the parser's, not ours.
        return new AppError(code, 'Request body is not valid JSON');
      default:
        return new AppError(code, status >= 500 ? 'Internal server error' : exception.message);
    }
  }
}

/** body-parser's errors (http-errors): client faults whose message is safe to show. */
function isBodyParserError(e: unknown): e is { status: number; type: string; message: string } {
  const { status, expose, type } = (e ?? {}) as { status?: unknown; expose?: unknown; type?: unknown };
  return typeof status === 'number' && status >= 400 && status < 500 && expose === true && typeof type === 'string';
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
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && UNREACHABLE.test(code)) return true;
    if (typeof message === 'string' && /Connection terminated|connection timeout|the database system is (starting|shutting) up/i.test(message)) {
      return true;
    }
    current = (current as { driverError?: unknown; cause?: unknown }).driverError ?? (current as { cause?: unknown }).cause;
  }
  return false;
}

