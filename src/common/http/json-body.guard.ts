import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import type { Request } from 'express';
import { AppError } from '../errors/app-error';

/**
 * 415 for a body that is not JSON sent to a route that reads one: the JSON parser skips such a body,
 * which would otherwise read as an empty request and fail validation field by field. A guard, not
 * a global interceptor: with no interceptor on a route Nest skips its RxJS pipeline, which would
 * cost every request (held long-polls included) its allocations.
 */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  private readonly readsBody = new WeakMap<object, boolean>();

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    // `is()` is null without a body, false for a body of another type (or of none declared).
    if (req.is('application/json') === false && req.headers['content-length'] !== '0' && this.takesBody(context)) {
      const type = req.headers['content-type'];
      throw new AppError(
        'unsupported_media_type',
        type ? `Content-Type '${type.slice(0, 100)}' is not supported; send application/json` : 'A body needs Content-Type: application/json',
      );
    }
    return true;
  }

  private takesBody(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let reads = this.readsBody.get(handler);
    if (reads === undefined) {
      const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), handler.name) ?? {};
      reads = Object.keys(args).some((key) => key.split(':')[0] === String(RouteParamtypes.BODY));
      this.readsBody.set(handler, reads);
    }
    return reads;
  }
}
