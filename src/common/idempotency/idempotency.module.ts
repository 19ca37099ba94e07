import { Global, Module } from '@nestjs/common';
import { IdempotentRequests } from './idempotent-requests';
import { IdempotencyStore } from './idempotency.store';

/** Global, so that `@Idempotent()` works on any controller. */
@Global()
@Module({ providers: [IdempotencyStore, IdempotentRequests], exports: [IdempotencyStore, IdempotentRequests] })
export class IdempotencyModule {}
