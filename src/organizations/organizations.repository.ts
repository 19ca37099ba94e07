import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DummyValue, GenerateSql } from '../database/generate-sql';

/** An organization's row as the slot accounting reads it: its own limit (null: the default) and the slots in use. */
export interface OrganizationRow {
  max_concurrent_executions: number | null;
  active_executions: number;
}

const COLUMNS = `max_concurrent_executions, active_executions`;

/**
 * The organizations table: one row per organization that ever ran anything, made on first use.
 * `active_executions` is kept by triggers on flow_executions (see CreateInOneStatement); the create
 * (start_flow_execution) locks and makes the row in SQL the same way.
 */
@Injectable()
export class OrganizationsRepository {
  /** Locks the organization's row, creating it on first use. */
  @GenerateSql({ name: 'first use', params: [DummyValue.MANAGER, DummyValue.UUID] })
  async lock(m: EntityManager, organizationId: string): Promise<OrganizationRow> {
    const lock = `SELECT ${COLUMNS} FROM organizations WHERE id = $1 FOR UPDATE`;
    let rows: OrganizationRow[] = await m.query(lock, [organizationId]);
    if (rows.length === 0) {
      await m.query(`INSERT INTO organizations (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, [organizationId]);
      rows = await m.query(lock, [organizationId]);
    }
    return rows[0];
  }

  /** The row lock unless another transaction holds it; undefined then, or when there is no row. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async tryLock(m: EntityManager, organizationId: string): Promise<OrganizationRow | undefined> {
    const rows: OrganizationRow[] = await m.query(`SELECT ${COLUMNS} FROM organizations WHERE id = $1 FOR UPDATE SKIP LOCKED`, [organizationId]);
    return rows[0];
  }

  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async find(m: EntityManager, organizationId: string): Promise<OrganizationRow | undefined> {
    const rows: OrganizationRow[] = await m.query(`SELECT ${COLUMNS} FROM organizations WHERE id = $1`, [organizationId]);
    return rows[0];
  }

  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, 10] })
  async setLimit(m: EntityManager, organizationId: string, limit: number): Promise<void> {
    await m.query(`UPDATE organizations SET max_concurrent_executions = $2, updated_at = now() WHERE id = $1`, [organizationId, limit]);
  }
}
