import type { Permission, Role } from '../../src/common/auth/permissions';

/**
 * docs/api.md#permissions-by-role (the contract's table) and the watching table's rows, transcribed row by row apart
 * from src/common/auth/permissions.ts: the unit spec holds the table to it, the permission walk
 * holds the served routes to it.
 */
export const CONTRACT_PERMISSIONS: Record<Permission, Record<Role, boolean>> = {
  'executions:read': { org_admin: true, app_user: true, integration: true, publisher: true, worker: true, backoffice: true },
  'executions:write': { org_admin: true, app_user: true, integration: true, publisher: true, worker: false, backoffice: true },
  'executions:report': { org_admin: false, app_user: false, integration: false, publisher: false, worker: true, backoffice: true },
  'webhook-data:submit': { org_admin: true, app_user: true, integration: true, publisher: true, worker: true, backoffice: true },
  'task-tags:write': { org_admin: true, app_user: true, integration: false, publisher: false, worker: true, backoffice: true },
  'flows:write': { org_admin: true, app_user: false, integration: false, publisher: true, worker: false, backoffice: true },
  'service-accounts:manage': { org_admin: true, app_user: false, integration: false, publisher: false, worker: false, backoffice: false },
  'organization:manage': { org_admin: true, app_user: false, integration: false, publisher: false, worker: false, backoffice: false },
  'webhooks:manage': { org_admin: true, app_user: false, integration: false, publisher: false, worker: false, backoffice: true },
};
