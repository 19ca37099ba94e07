import { can, missingPermission, Permission, PERMISSIONS, Role, ROLES, statusMovePermissions } from './permissions';

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

describe('PATCH .../status moves', () => {
  const STATUSES = ['queued', 'running', 'completed', 'failed', 'deleted', 'stale', 'edited', 'awaiting_input', 'cancel_requested', 'cancelled'];
  // CONTRACT.md: a user's decision, not a report (needs both rows).
  const DECISIONS = new Set([...STATUSES.map((from) => `${from} deleted`), ...STATUSES.map((from) => `${from} cancel_requested`), 'queued cancelled']);
  const moves = STATUSES.flatMap((from) => STATUSES.map((to) => [from, to] as const));

  it.each(moves)('%s → %s', (from, to) => {
    const expected: Permission[] = DECISIONS.has(`${from} ${to}`) ? ['executions:report', 'executions:write'] : ['executions:report'];
    expect([...statusMovePermissions(from, to)].sort()).toEqual(expected.sort());
  });

  it('lets a worker report progress and acknowledge a cancellation, and nothing a user decides', () => {
    for (const [from, to] of [['queued', 'running'], ['running', 'completed'], ['running', 'failed'], ['cancel_requested', 'cancelled'], ['completed', 'stale']]) {
      expect(missingPermission('worker', statusMovePermissions(from, to))).toBeNull();
    }
    for (const [from, to] of [['running', 'deleted'], ['running', 'cancel_requested'], ['awaiting_input', 'cancel_requested'], ['queued', 'cancelled']]) {
      expect(missingPermission('worker', statusMovePermissions(from, to))).toBe('executions:write');
    }
  });

  it('needs both rows: backoffice may decide, a role without executions:report may not patch at all', () => {
    expect(missingPermission('backoffice', statusMovePermissions('queued', 'cancelled'))).toBeNull();
    expect(missingPermission('org_admin', statusMovePermissions('queued', 'cancelled'))).toBe('executions:report');
    expect(missingPermission('org_admin', statusMovePermissions('running', 'completed'))).toBe('executions:report');
  });
});
