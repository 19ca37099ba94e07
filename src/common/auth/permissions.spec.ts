import { can, Permission, PERMISSIONS, Role, ROLES } from './permissions';

// CONTRACT.md "Permissions by role" and the watching table's webhook-data and task-tag rows, transcribed row by row: the table in permissions.ts must say the same.
const CONTRACT: Record<Permission, Record<Role, boolean>> = {
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

describe('permission table', () => {
  const cells = (Object.keys(CONTRACT) as Permission[]).flatMap((permission) => ROLES.map((role) => [permission, role] as const));

  it.each(cells)('%s for %s', (permission, role) => {
    expect(can(role, permission)).toBe(CONTRACT[permission][role]);
  });

  it('has exactly the rows of the contract', () => {
    expect(Object.keys(PERMISSIONS).sort()).toEqual(Object.keys(CONTRACT).sort());
  });

  it('knows the six roles of the spec', () => {
    expect([...ROLES].sort()).toEqual(['app_user', 'backoffice', 'integration', 'org_admin', 'publisher', 'worker']);
  });
});
