import { applyDecorators, SetMetadata, Type, UseInterceptors } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from '../errors/error-envelope.dto';
import { ANSWER_CODEC, IDEMPOTENCY_HEADER, IdempotencyInterceptor, IdempotentAnswerCodec } from './idempotency.interceptor';

/**
 * Makes a POST safe to retry with an `Idempotency-Key` header (see IdempotencyInterceptor), and
 * documents the header and its 409 / 422 answers. `codec` keeps a successful answer in another form.
 */
export function Idempotent(codec?: Type<IdempotentAnswerCodec>) {
  return applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ...(codec ? [SetMetadata(ANSWER_CODEC, codec)] : []),
    ApiHeader({
      name: IDEMPOTENCY_HEADER,
      required: false,
      description:
        '1-255 printable ASCII characters. The same key with the same request within IDEMPOTENCY_TTL_HOURS replays the first answer ' +
        '(`Idempotent-Replayed: true`); with another request: 422 `idempotency_key_reused`; while the first runs: 409 `idempotency_key_in_use`. ' +
        'The answer is kept in the transaction of the work: a retry after a lost answer replays it, never runs the work twice.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    }),
    ApiResponse({
      status: 409,
      description: 'Conflict - a state transition that is not allowed, or the Idempotency-Key is in use (Retry-After)',
      type: ErrorResponseDto,
    }),
  );
}
