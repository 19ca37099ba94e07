import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppError } from '../errors/app-error';
import { ApiKeyVerifier } from './api-key.verifier';
import { AuthenticatedRequest, IS_PUBLIC, REQUIRED_PERMISSION } from './auth.decorators';
import { JwtVerifier } from './jwt.verifier';
import { can, Permission } from './permissions';
import type { Principal } from './principal';

/** Global and default-deny: every route needs a credential unless marked `@Public()`. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly jwt: JwtVerifier,
    private readonly apiKeys: ApiKeyVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;

    const req = context.switchToHttp().getRequest<Request & AuthenticatedRequest>();
    const principal = await this.authenticate(req);
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(REQUIRED_PERMISSION, targets);
    if (permission && !can(principal.role, permission)) {
      throw new AppError('forbidden', `Role '${principal.role}' does not have permission '${permission}'`);
    }
    req.principal = principal;
    return true;
  }

  private async authenticate(req: Request): Promise<Principal> {
    const authorization = req.headers.authorization;
    const apiKey = req.headers['x-api-key'];
    if (!authorization && !apiKey) throw new AppError('unauthorized', 'Authentication required');

    // Both present: the bearer token wins (docs/api.md#credentials).
    if (authorization) {
      const [scheme, token] = authorization.split(' ');
      const principal = scheme?.toLowerCase() === 'bearer' && token ? await this.jwt.verify(token) : null;
      if (!principal) throw new AppError('unauthorized', 'Invalid authentication token');
      return principal;
    }
    const principal = typeof apiKey === 'string' ? await this.apiKeys.verify(apiKey) : null;
    if (!principal) throw new AppError('unauthorized', 'Invalid API key');
    return principal;
  }
}
