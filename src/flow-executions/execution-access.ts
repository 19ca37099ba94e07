import type { Principal } from '../common/auth/principal';
import { AppError, forbidden, notFound } from '../common/errors/app-error';
import type { FlowExecutionRow } from './dto/flow-execution.dto';

type Located = Pick<FlowExecutionRow, 'organization_id' | 'status'>;

/**
 * The one decision of 404 versus 403 for a flow execution (docs/api.md#organization-isolation): one that does not exist
 * or is deleted is absent, whatever its organization; another organization's is forbidden.
 */
export function accessible<T extends Located>(principal: Principal, row: T | undefined): T {
  if (!row || row.status === 'deleted') throw notFound('Flow execution');
  if (row.organization_id !== principal.organizationId) throw forbidden('You do not have permission to access this flow execution');
  return row;
}

/**
 * The same decision for a request naming several executions: each decided as `accessible` would,
 * absent ones first (404, each named), then another organization's (403, none named).
 */
export function allAccessible<T extends Located & { id: string }>(principal: Principal, ids: string[], rows: T[]): Map<string, T> {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const missing = ids.filter((id) => byId.get(id) === undefined || byId.get(id)!.status === 'deleted');
  if (missing.length > 0)
    throw new AppError(
      'not_found',
      'Flow execution not found',
      missing.map((id) => ({ flow_execution_id: id })),
    );
  if (rows.some((row) => row.organization_id !== principal.organizationId)) {
    throw forbidden('You do not have permission to access a flow execution of this request');
  }
  return byId;
}
