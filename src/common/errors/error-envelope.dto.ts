export class ErrorDetailDto {
  /** Human-readable error message */
  message: string;
  /** Machine-readable error code for programmatic handling */
  code: string;
  /** Additional error context, e.g. the failed fields of a validation error */
  details?: unknown;
}

export class ErrorResponseDto {
  error: ErrorDetailDto;
  /** ULID of the request (or the caller's own X-Request-ID), also in the logs */
  request_id: string;
}
