import { applyDecorators, Inject, Req, Type } from '@nestjs/common';
import { PROPERTY_DEPS_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { ErrorResponseDto } from '../errors/error-envelope.dto';
import { IDEMPOTENCY_HEADER, IdempotentAnswerCodec, IdempotentRequests, IdempotentRoute } from './idempotent-requests';

/** The controller's property Nest fills with the runner of its `@Idempotent()` routes. */
const RUNNER = Symbol('IdempotentRequests');
/** Metadata of a handler: the index of its `@OwnedIdempotencyKey()` parameter. */
const OWNED_KEY_INDEX = Symbol('owned idempotency key');
/** Metadata of a handler that `@Idempotent()` wrapped. */
const WRAPPED = Symbol('idempotent');
type Handler = (...args: unknown[]) => unknown;

/**
 * The parameter of an `@Idempotent()` handler that receives the key its request owns (an
 * `OwnedKey`, undefined without an `Idempotency-Key` header), for `keepOutcome` in the work's
 * transaction. Filled by the wrapper `@Idempotent()` puts around the handler, not by Nest: on a
 * handler without `@Idempotent()` nothing would fill it, and the application refuses to start
 * (`unfilledOwnedKeys`, checked by IdempotencyModule).
 */
export function OwnedIdempotencyKey(): ParameterDecorator {
  return (target, key, index) => Reflect.defineMetadata(OWNED_KEY_INDEX, index, target, key!);
}

/**
 * Makes a POST safe to retry with an `Idempotency-Key` header (see IdempotentRequests), and
 * documents the header and its 409 / 422 answers. `codec` keeps a successful answer in another form.
 */
export function Idempotent(codec?: Type<IdempotentAnswerCodec>) {
  return applyDecorators(
    runsIdempotently(codec),
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

/**
 * Wraps the route's handler rather than intercepting it: Nest runs a route's interceptors through an
 * RxJS pipeline that binds an AsyncResource per step, which cost every create 13-21% of its CPU,
 * key or not (docs/benchmarks.md, "Idempotency without an interceptor"). The wrapper gets the
 * request as one more argument (`@Req()` past the handler's own parameters, stripped before the
 * handler is called) and the runner from a property Nest injects into the controller, and puts the
 * owned key in the handler's `@OwnedIdempotencyKey()` parameter, if it has one. Metadata that
 * decorators applied below this one left on the handler is carried over to the wrapper.
 */
function runsIdempotently(codec: Type<IdempotentAnswerCodec> | undefined): MethodDecorator {
  return (target, key, descriptor) => {
    const handler = descriptor.value as Handler;
    const keyIndex = Reflect.getMetadata(OWNED_KEY_INDEX, target, key) as number | undefined;
    Reflect.defineMetadata(WRAPPED, true, target, key);
    const at = Math.max(argumentCount(target, key, handler), keyIndex === undefined ? 0 : keyIndex + 1);
    Req()(target, key, at);
    const injected = (Reflect.getMetadata(PROPERTY_DEPS_METADATA, target.constructor) ?? []) as { key: string | symbol }[];
    if (!injected.some((property) => property.key === RUNNER)) Inject(IdempotentRequests)(target, RUNNER);
    // The route's success status is read from the wrapper, which holds the metadata of decorators on both sides.
    const route: IdempotentRoute = { handler: {}, codec };
    const wrapper = function (this: { [RUNNER]: IdempotentRequests }, ...args: unknown[]): unknown {
      const own = args.slice(0, at);
      return this[RUNNER].run(args[at] as Request, route, (owned) => {
        if (keyIndex !== undefined) own[keyIndex] = owned;
        return handler.apply(this, own);
      });
    };
    route.handler = wrapper;
    for (const metadataKey of Reflect.getOwnMetadataKeys(handler)) {
      Reflect.defineMetadata(metadataKey, Reflect.getOwnMetadata(metadataKey, handler), wrapper);
    }
    Object.defineProperty(wrapper, 'name', { value: handler.name });
    descriptor.value = wrapper as typeof descriptor.value;
    return descriptor;
  };
}

/** The handlers of a controller's prototype with an `@OwnedIdempotencyKey()` parameter but no `@Idempotent()`: nothing fills it. */
export function unfilledOwnedKeys(prototype: object, methodNames: readonly string[]): string[] {
  return methodNames.filter((name) => Reflect.getMetadata(OWNED_KEY_INDEX, prototype, name) !== undefined && !Reflect.getMetadata(WRAPPED, prototype, name));
}

/** How many arguments Nest passes the handler: its declared parameters, and any decorated past them. */
function argumentCount(target: object, key: string | symbol, handler: Handler): number {
  const declared = (Reflect.getMetadata('design:paramtypes', target, key) as unknown[] | undefined)?.length ?? 0;
  const decorated = Object.values((Reflect.getMetadata(ROUTE_ARGS_METADATA, target.constructor, key) ?? {}) as Record<string, { index: number }>);
  return Math.max(declared, handler.length, ...decorated.map((arg) => arg.index + 1));
}
