import { ApiProperty, ApiSchema } from '@nestjs/swagger';

@ApiSchema({ name: 'ErrorDetail' })
export class ErrorDetailDto {
  /** Human-readable error message */
  message: string;
  /** Machine-readable error code for programmatic handling */
  code: string;
  /** Additional error context, e.g. the failed fields of a validation error */
  @ApiProperty({ required: false, anyOf: [{ type: 'array', items: {}, nullable: true }, { type: 'object' }] })
  details?: unknown;
}

@ApiSchema({ name: 'ErrorResponse' })
export class ErrorResponseDto {
  error: ErrorDetailDto;
  /** ULID of the request (or the caller's own X-Request-ID), also in the logs */
  request_id: string;
}

@ApiSchema({ name: 'ValidationError' })
export class ValidationErrorItemDto {
  /** Where the failed value is: `query`, `path`, `body` or `header`, then the field's path */
  @ApiProperty({ type: 'array', items: { oneOf: [{ type: 'string' }, { type: 'integer' }] } })
  loc: (string | number)[];
  msg: string;
  type: string;
  /** The value that failed, when there was one */
  @ApiProperty({ required: false, description: 'The value that failed, when there was one' })
  input?: unknown;
}

/** A 422: FastAPI's `detail` list beside the envelope, so that clients of either shape work. */
@ApiSchema({ name: 'HTTPValidationError' })
export class ValidationErrorResponseDto extends ErrorResponseDto {
  detail: ValidationErrorItemDto[];
}
