import { Body, Controller as NestController, HttpCode, Param, Post, SetMetadata } from '@nestjs/common';
import { HTTP_CODE_METADATA, PROPERTY_DEPS_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Test } from '@nestjs/testing';
import type { OwnedKey } from './idempotency.context';
import { Idempotent, OwnedIdempotencyKey, unfilledOwnedKeys } from './idempotency.decorator';
import { IdempotencyModule } from './idempotency.module';
import { IdempotencyStore } from './idempotency.store';
import { IdempotentRequests, IdempotentRoute, Work } from './idempotent-requests';

describe('@Idempotent()', () => {
  class Controller {
    @Post(':id')
    @HttpCode(202)
    @Idempotent()
    @SetMetadata('below', 'kept')
    handle(@Param('id') id: string, @Body() body: { n: number }) {
      return { id, n: body.n, self: this };
    }

    @Post()
    @Idempotent()
    other() {
      return null;
    }

    @Post(':id/keyed')
    @Idempotent()
    keyed(@Param('id') id: string, @OwnedIdempotencyKey() key: OwnedKey | undefined, @Body() body: { n: number }) {
      return { id, key, n: body.n };
    }
  }
  const handler = Controller.prototype.handle as unknown as (...args: unknown[]) => unknown;
  const keyed = Controller.prototype.keyed as unknown as (...args: unknown[]) => unknown;
  /** The controller with a runner that calls the handler with `owned` as the request's key. */
  const withRunner = (owned: OwnedKey | undefined, calls: { req: unknown; route: IdempotentRoute }[] = []) => {
    const controller = new Controller();
    const runner = {
      run: (req: unknown, route: IdempotentRoute, work: Work) => {
        calls.push({ req, route });
        return work(owned);
      },
    };
    const [{ key }] = Reflect.getMetadata(PROPERTY_DEPS_METADATA, Controller) as { key: symbol }[];
    return Object.assign(controller, { [key]: runner });
  };

  it('keeps on the wrapped handler what decorators above and below it put there', () => {
    expect(Reflect.getMetadata(HTTP_CODE_METADATA, handler)).toBe(202);
    expect(Reflect.getMetadata('below', handler)).toBe('kept');
  });

  it('asks Nest for the request past the handler’s own arguments, and for the runner as one property', () => {
    const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, Controller, 'handle') as Record<string, { index: number }>;
    expect(args[`${RouteParamtypes.REQUEST}:2`]).toMatchObject({ index: 2 });
    const none = Reflect.getMetadata(ROUTE_ARGS_METADATA, Controller, 'other') as Record<string, { index: number }>;
    expect(Object.values(none)).toEqual([expect.objectContaining({ index: 0 })]);
    const properties = Reflect.getMetadata(PROPERTY_DEPS_METADATA, Controller) as { type: unknown }[];
    expect(properties.map((p) => p.type)).toEqual([IdempotentRequests]);
  });

  it('hands the runner the request and a call of the handler with its own arguments and instance', () => {
    const calls: { req: unknown; route: IdempotentRoute }[] = [];
    const controller = withRunner(undefined, calls);
    const req = { headers: {} };
    expect(handler.call(controller, 'a', { n: 1 }, req)).toEqual({ id: 'a', n: 1, self: controller });
    expect(calls).toEqual([{ req, route: { handler, codec: undefined } }]);
  });

  it('puts the key the request owns in the handler’s @OwnedIdempotencyKey() parameter, which Nest leaves empty', () => {
    const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, Controller, 'keyed') as Record<string, { index: number }>;
    expect(
      Object.values(args)
        .map((arg) => arg.index)
        .sort(),
    ).toEqual([0, 2, 3]); // id, body, and the request past them
    const owned = { owner: 'o' } as OwnedKey;
    const req = { headers: {} };
    expect(keyed.call(withRunner(owned), 'a', undefined, { n: 1 }, req)).toEqual({ id: 'a', key: owned, n: 1 });
    expect(keyed.call(withRunner(undefined), 'a', undefined, { n: 2 }, req)).toEqual({ id: 'a', key: undefined, n: 2 });
  });

  describe('an @OwnedIdempotencyKey() parameter without @Idempotent()', () => {
    @NestController('unfilled')
    class Unfilled {
      @Post()
      create(@Body() body: unknown, @OwnedIdempotencyKey() key: OwnedKey | undefined) {
        return { body, key };
      }
    }
    @NestController('filled')
    class Filled {
      @Post()
      @Idempotent()
      create(@Body() body: unknown, @OwnedIdempotencyKey() key: OwnedKey | undefined) {
        return { body, key };
      }
    }
    const init = async (...controllers: (new () => object)[]) => {
      const moduleRef = await Test.createTestingModule({ imports: [IdempotencyModule], controllers })
        .overrideProvider(IdempotencyStore)
        .useValue({})
        .overrideProvider(IdempotentRequests)
        .useValue({})
        .compile();
      try {
        await moduleRef.init();
      } finally {
        await moduleRef.close();
      }
    };

    it('is found on the prototype, and a wrapped one is not', () => {
      expect(unfilledOwnedKeys(Unfilled.prototype, ['create'])).toEqual(['create']);
      expect(unfilledOwnedKeys(Filled.prototype, ['create'])).toEqual([]);
      expect(unfilledOwnedKeys(Controller.prototype, ['handle', 'other', 'keyed'])).toEqual([]);
    });

    it('keeps the application from starting, naming the handler', async () => {
      await expect(init(Unfilled)).rejects.toThrow('@OwnedIdempotencyKey() without @Idempotent() on Unfilled.create');
      await expect(init(Filled)).resolves.toBeUndefined();
    });
  });
});
