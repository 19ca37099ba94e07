import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { Permission } from './permissions';
import type { Principal } from './principal';

export const IS_PUBLIC = 'auth:public';
export const REQUIRED_PERMISSION = 'auth:permission';
/** The OpenAPI extension naming an operation's permission, so the document can be checked against the table. */
export const PERMISSION_EXTENSION = 'x-required-permission';
/** Marks a public operation for createOpenApiDocument, which turns it into `security: []`. */
export const PUBLIC_EXTENSION = 'x-public';

/** Opts a route out of the global, default-deny auth guard. */
export const Public = () => applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension(PUBLIC_EXTENSION, true));

/** The permission the auth guard checks, also named in the operation's OpenAPI entry. */
export const RequirePermission = (permission: Permission) =>
  applyDecorators(SetMetadata(REQUIRED_PERMISSION, permission), ApiExtension(PERMISSION_EXTENSION, permission));

export type AuthenticatedRequest = { principal?: Principal };

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a route the auth guard did not authenticate');
  return principal;
});
