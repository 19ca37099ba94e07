import { Body, HttpCode, Param, Post, SetMetadata } from '@nestjs/common';
import { HTTP_CODE_METADATA, PROPERTY_DEPS_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Idempotent } from './idempotency.decorator';
import { IdempotentRequests, IdempotentRoute } from './idempotent-requests';

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
  }
  const handler = Controller.prototype.handle as unknown as (...args: unknown[]) => unknown;

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
    const controller = new Controller();
    const calls: { req: unknown; route: IdempotentRoute }[] = [];
    const runner = {
      run: (req: unknown, route: IdempotentRoute, work: () => unknown) => {
        calls.push({ req, route });
        return work();
      },
    };
    const [{ key }] = Reflect.getMetadata(PROPERTY_DEPS_METADATA, Controller) as { key: symbol }[];
    Object.assign(controller, { [key]: runner });
    const req = { headers: {} };
    expect(handler.call(controller, 'a', { n: 1 }, req)).toEqual({ id: 'a', n: 1, self: controller });
    expect(calls).toEqual([{ req, route: { handler, codec: undefined } }]);
  });
});
