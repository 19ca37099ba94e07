import { Global, Module, OnModuleInit } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, MetadataScanner } from '@nestjs/core';
import { unfilledOwnedKeys } from './idempotency.decorator';
import { IdempotentRequests } from './idempotent-requests';
import { IdempotencyStore } from './idempotency.store';

/** Global, so that `@Idempotent()` works on any controller. */
@Global()
@Module({ imports: [DiscoveryModule], providers: [IdempotencyStore, IdempotentRequests], exports: [IdempotencyStore, IdempotentRequests] })
export class IdempotencyModule implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /** Refuses to start when a handler has an `@OwnedIdempotencyKey()` parameter that no `@Idempotent()` fills. */
  onModuleInit(): void {
    const unfilled = this.discovery.getControllers().flatMap(({ metatype }) => {
      if (!metatype) return [];
      const prototype = metatype.prototype as object;
      return unfilledOwnedKeys(prototype, this.scanner.getAllMethodNames(prototype)).map((name) => `${metatype.name}.${name}`);
    });
    if (unfilled.length > 0) throw new Error(`@OwnedIdempotencyKey() without @Idempotent() on ${unfilled.join(', ')}: nothing would fill the parameter`);
  }
}
