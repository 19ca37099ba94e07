import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from '../errors/error-envelope.dto';
import { IDEMPOTENCY_HEADER, IdempotencyInterceptor } from './idempotency.interceptor';

/**
 * Makes a POST safe to retry with an `Idempotency-Key` header (see IdempotencyInterceptor), and
 * documents the header and its 409 / 422 answers.
 */
export function Idempotent() {
  return applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: IDEMPOTENCY_HEADER,
      required: false,
      description:
        '1-255 printable ASCII characters. The same key with the same request within IDEMPOTENCY_TTL_HOURS replays the first answer ' +
        '(`Idempotent-Replayed: true`); with another request: 422 `idempotency_key_reused`; while the first runs: 409 `idempotency_key_in_use`.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    }),
    ApiResponse({ status: 409, description: 'Conflict - a state transition that is not allowed, or the Idempotency-Key is in use (Retry-After)', type: ErrorResponseDto }),
  );
}
