export const ROLES = ['org_admin', 'app_user', 'integration', 'publisher', 'worker', 'backoffice'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'executions:read'
  | 'executions:write'
  | 'executions:report'
  | 'webhook-data:submit'
  | 'task-tags:write'
  | 'flows:write'
  | 'service-accounts:manage'
  | 'organization:manage'
  | 'webhooks:manage';

/** docs/api.md#permissions-by-role, one row a permission. */
export const PERMISSIONS: Record<Permission, readonly Role[]> = {
  'executions:read': ROLES,
  'executions:write': ['org_admin', 'app_user', 'integration', 'publisher', 'backoffice'],
  'executions:report': ['worker', 'backoffice'],
  'webhook-data:submit': ROLES,
  // Progress reporters, and the roles that review in the UI.
  'task-tags:write': ['org_admin', 'app_user', 'worker', 'backoffice'],
  'flows:write': ['org_admin', 'publisher', 'backoffice'],
  'service-accounts:manage': ['org_admin'],
  'organization:manage': ['org_admin'],
  'webhooks:manage': ['org_admin', 'backoffice'],
};

export function can(role: Role, permission: Permission): boolean {
  return PERMISSIONS[permission].includes(role);
}

/**
 * What a `PATCH .../status` move needs: `executions:report`, and `executions:write` as well for a
 * move that is a user's decision rather than a progress report (to `deleted`, to
 * `cancel_requested`, `queued → cancelled`). A worker still acknowledges a cancellation.
 */
// Statuses as plain strings: common/ does not depend on flow-executions/.
export function statusMovePermissions(from: string, to: string): readonly Permission[] {
  const decision = to === 'deleted' || to === 'cancel_requested' || (from === 'queued' && to === 'cancelled');
  return decision ? ['executions:report', 'executions:write'] : ['executions:report'];
}

/** The first of `permissions` the role lacks, or null. */
export function missingPermission(role: Role, permissions: readonly Permission[]): Permission | null {
  return permissions.find((permission) => !can(role, permission)) ?? null;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
