import { HttpStatus } from '@nestjs/common';

/** Every machine-readable error code the API answers with, mapped to its HTTP status. */
export const ERROR_STATUS = {
  bad_request: HttpStatus.BAD_REQUEST,
  invalid_dsl_input: HttpStatus.BAD_REQUEST,
  unauthorized: HttpStatus.UNAUTHORIZED,
  insufficient_credits: HttpStatus.PAYMENT_REQUIRED,
  forbidden: HttpStatus.FORBIDDEN,
  not_found: HttpStatus.NOT_FOUND,
  method_not_allowed: HttpStatus.METHOD_NOT_ALLOWED,
  request_timeout: HttpStatus.REQUEST_TIMEOUT,
  conflict: HttpStatus.CONFLICT,
  idempotency_key_in_use: HttpStatus.CONFLICT,
  cursor_expired: HttpStatus.GONE,
  payload_too_large: HttpStatus.PAYLOAD_TOO_LARGE,
  unsupported_media_type: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  validation_error: HttpStatus.UNPROCESSABLE_ENTITY,
  idempotency_key_reused: HttpStatus.UNPROCESSABLE_ENTITY,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
  header_fields_too_large: 431 as HttpStatus, // Request Header Fields Too Large (RFC 6585), absent from HttpStatus
  internal_error: HttpStatus.INTERNAL_SERVER_ERROR,
  service_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
} as const satisfies Record<string, HttpStatus>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export type ErrorDetails = string[] | Record<string, unknown>[] | Record<string, unknown> | null;

/** A failure the service means to report to the caller, rendered as the error envelope. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = null,
  ) {
    super(message);
  }

  get status(): HttpStatus {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const forbidden = (message = 'You do not have permission to access this resource') => new AppError('forbidden', message);
export const conflict = (message: string, details: ErrorDetails = null) => new AppError('conflict', message, details);
export const badRequest = (message: string, details: ErrorDetails = null) => new AppError('bad_request', message, details);
