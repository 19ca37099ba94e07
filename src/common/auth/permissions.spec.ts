import { CONTRACT_PERMISSIONS as CONTRACT } from '../../../test/utils/permission-contract';
import { can, missingPermission, Permission, PERMISSIONS, ROLES, statusMovePermissions } from './permissions';

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
  // docs/api.md#permissions-by-role: a user's decision, not a report (needs both rows).
  const DECISIONS = new Set([...STATUSES.map((from) => `${from} deleted`), ...STATUSES.map((from) => `${from} cancel_requested`), 'queued cancelled']);
  const moves = STATUSES.flatMap((from) => STATUSES.map((to) => [from, to] as const));

  it.each(moves)('%s → %s', (from, to) => {
    const expected: Permission[] = DECISIONS.has(`${from} ${to}`) ? ['executions:report', 'executions:write'] : ['executions:report'];
    expect([...statusMovePermissions(from, to)].sort()).toEqual(expected.sort());
  });

  it('lets a worker report progress and acknowledge a cancellation, and nothing a user decides', () => {
    for (const [from, to] of [
      ['queued', 'running'],
      ['running', 'completed'],
      ['running', 'failed'],
      ['cancel_requested', 'cancelled'],
      ['completed', 'stale'],
    ]) {
      expect(missingPermission('worker', statusMovePermissions(from, to))).toBeNull();
    }
    for (const [from, to] of [
      ['running', 'deleted'],
      ['running', 'cancel_requested'],
      ['awaiting_input', 'cancel_requested'],
      ['queued', 'cancelled'],
    ]) {
      expect(missingPermission('worker', statusMovePermissions(from, to))).toBe('executions:write');
    }
  });

  it('needs both rows: backoffice may decide, a role without executions:report may not patch at all', () => {
    expect(missingPermission('backoffice', statusMovePermissions('queued', 'cancelled'))).toBeNull();
    expect(missingPermission('org_admin', statusMovePermissions('queued', 'cancelled'))).toBe('executions:report');
    expect(missingPermission('org_admin', statusMovePermissions('running', 'completed'))).toBe('executions:report');
  });
});
