import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import { isoText as iso } from '../database/sql-literals';
import { anyTag, Selection, selectionWhere } from '../flow-executions/selection';
import type { BulkActionKind, BulkActionRow, ItemOutcome } from './dto/bulk-action.dto';

const COLUMNS = `ba.id, ba.organization_id, ba.flow_id, ba.action, ba.status, ba.selection, ba.matched, ba.processed, ba.succeeded, ba.failed,
  ba.created_by, ba.created_by_role, ${iso('ba.created_at')} AS created_at, ${iso('ba.updated_at')} AS updated_at,
  ${iso('ba.finished_at')} AS finished_at`;

export interface NewBulkAction {
  organizationId: string;
  flowId: string;
  action: BulkActionKind;
  selection: Record<string, unknown>;
  createdBy: string;
  createdByRole: string;
}

export interface PendingItem {
  seq: number;
  flow_execution_id: string;
}

export interface ItemOutcomeToWrite {
  seq: number;
  outcome: Exclude<ItemOutcome, 'pending'>;
  error: { code: string; message: string } | null;
}

export interface ItemRow {
  seq: number;
  flow_execution_id: string;
  outcome: ItemOutcome;
  error: { code: string; message: string } | null;
  processed_at: string | null;
}

const SELECTION_SAMPLE: Selection = { flowId: DummyValue.UUID, organizationId: DummyValue.UUID2, status: ['queued', 'running'] };

/** Bulk actions and their frozen items (docs/api.md#bulk-actions). */
@Injectable()
export class BulkActionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Serializes the creations of one organization's actions (its cap on unfinished actions), until commit. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async lockOrganization(m: EntityManager, organizationId: string): Promise<void> {
    // 'bulk' in ASCII.
    await m.query(`SELECT pg_advisory_xact_lock(1651862635, hashtext($1))`, [organizationId]);
  }

  /** The organization's queued and running actions (bulk_actions_unfinished_idx). */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async unfinishedCount(m: EntityManager, organizationId: string): Promise<number> {
    const rows: { n: number }[] = await m.query(`SELECT count(*)::int AS n FROM bulk_actions WHERE organization_id = $1 AND status IN ('queued', 'running')`, [
      organizationId,
    ]);
    return rows[0].n;
  }

  @GenerateSql({
    params: [
      DummyValue.MANAGER,
      { organizationId: DummyValue.UUID, flowId: DummyValue.UUID2, action: 'cancel', selection: {}, createdBy: 'sample', createdByRole: 'org_admin' },
    ],
  })
  async insert(m: EntityManager, a: NewBulkAction): Promise<BulkActionRow> {
    const [row]: BulkActionRow[] = await m.query(
      `INSERT INTO bulk_actions AS ba (organization_id, flow_id, action, status, selection, matched, created_by, created_by_role)
       VALUES ($1, $2, $3, 'queued', $4, 0, $5, $6)
       RETURNING ${COLUMNS}`,
      [a.organizationId, a.flowId, a.action, a.selection, a.createdBy, a.createdByRole],
    );
    return row;
  }

  /**
   * Freezes the matched set: the selected runs, oldest first, as the action's items, in one
   * statement (one snapshot), at most `upTo + 1` of them. Answers how many it wrote.
   */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, SELECTION_SAMPLE, 100000] })
  async freeze(m: EntityManager, actionId: string, s: Selection, upTo: number): Promise<number> {
    const params: unknown[] = [s.flowId, s.organizationId];
    const p = (value: unknown) => `$${params.push(value)}`;
    const { where, tags } = selectionWhere(s, p, 'join');
    if (tags) where.push(anyTag(tags));
    // The caller checked the flow is the organization's; the runs are held to it all the same.
    where.push(`fe.organization_id = $2::uuid`);
    const rows: { n: number }[] = await m.query(
      `WITH frozen AS (
         INSERT INTO bulk_action_items (bulk_action_id, seq, flow_execution_id)
         SELECT ${p(actionId)}::uuid, row_number() OVER (ORDER BY x.created_at, x.id), x.id
           FROM (SELECT fe.id, fe.created_at FROM flow_executions fe WHERE ${where.join(' AND ')}
                  ORDER BY fe.created_at, fe.id LIMIT ${p(upTo)}::int + 1) x
         RETURNING 1
       )
       SELECT count(*)::int AS n FROM frozen`,
      params,
    );
    return rows[0].n;
  }

  /** The action's count, and `completed` at once when nothing matched. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, 5] })
  async setMatched(m: EntityManager, id: string, matched: number): Promise<BulkActionRow> {
    const [[row]]: [BulkActionRow[]] = await m.query(
      `UPDATE bulk_actions ba
          SET matched = $2::int,
              status = CASE WHEN $2::int = 0 THEN 'completed' ELSE ba.status END,
              finished_at = CASE WHEN $2::int = 0 THEN clock_timestamp() END
        WHERE ba.id = $1
      RETURNING ${COLUMNS}`,
      [id, matched],
    );
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async findById(id: string): Promise<BulkActionRow | undefined> {
    const rows: BulkActionRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM bulk_actions ba WHERE ba.id = $1`, [id]);
    return rows[0];
  }

  /** The organization's actions, newest first, after the cursor's (bulk_actions_org_created_idx). */
  @GenerateSql({ name: 'first page', params: [DummyValue.UUID, null, 50] }, { name: 'after a cursor', params: [DummyValue.UUID, DummyValue.UUID2, 50] })
  async list(organizationId: string, after: string | null, limit: number): Promise<{ rows: BulkActionRow[]; cursor: 'ok' | 'missing' }> {
    const params: unknown[] = [organizationId, limit];
    let cursor = '';
    if (after !== null) {
      params.push(after);
      cursor = `AND (ba.created_at, ba.id) < (SELECT c.created_at, c.id FROM bulk_actions c WHERE c.id = $3 AND c.organization_id = $1)`;
      const found: unknown[] = await this.dataSource.query(`SELECT 1 FROM bulk_actions WHERE id = $1 AND organization_id = $2`, [after, organizationId]);
      if (found.length === 0) return { rows: [], cursor: 'missing' };
    }
    const rows: BulkActionRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM bulk_actions ba WHERE ba.organization_id = $1 ${cursor} ORDER BY ba.created_at DESC, ba.id DESC LIMIT $2`,
      params,
    );
    return { rows, cursor: 'ok' };
  }

  /** The action's items in order, of one outcome when given, after a sequence number. */
  @GenerateSql({ name: 'all', params: [DummyValue.UUID, null, 0, 100] }, { name: 'failed', params: [DummyValue.UUID, 'failed', 100, 100] })
  async items(id: string, outcome: ItemOutcome | null, after: number, limit: number): Promise<ItemRow[]> {
    return this.dataSource.query(
      `SELECT i.seq, i.flow_execution_id, i.outcome, i.error, ${iso('i.processed_at')} AS processed_at
         FROM bulk_action_items i
        WHERE i.bulk_action_id = $1 AND ($2::text IS NULL OR i.outcome = $2) AND i.seq > $3
        ORDER BY i.seq
        LIMIT $4`,
      [id, outcome, after, limit],
    );
  }

  /** Cancels a queued or running action; a batch in progress finishes first (it holds the row). */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async cancel(m: EntityManager, id: string): Promise<BulkActionRow | undefined> {
    const [rows]: [BulkActionRow[]] = await m.query(
      `UPDATE bulk_actions ba SET status = 'cancelled', finished_at = clock_timestamp(), updated_at = clock_timestamp()
        WHERE ba.id = $1 AND ba.status IN ('queued', 'running')
      RETURNING ${COLUMNS}`,
      [id],
    );
    return rows[0];
  }

  /**
   * The oldest unfinished action no other worker holds, locked for this transaction (a batch):
   * replicas share the work, and a crashed batch leaves it to the next claim.
   */
  @GenerateSql({ params: [DummyValue.MANAGER] })
  async claim(m: EntityManager): Promise<BulkActionRow | undefined> {
    const rows: BulkActionRow[] = await m.query(
      `SELECT ${COLUMNS} FROM bulk_actions ba
        WHERE ba.status IN ('queued', 'running')
        ORDER BY ba.created_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED`,
    );
    return rows[0];
  }

  /** The next pending items of the action, in order (bulk_action_items_pending_idx). */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, 100] })
  async pending(m: EntityManager, id: string, limit: number): Promise<PendingItem[]> {
    return m.query(`SELECT seq, flow_execution_id FROM bulk_action_items WHERE bulk_action_id = $1 AND outcome = 'pending' ORDER BY seq LIMIT $2`, [id, limit]);
  }

  /** The outcomes of a batch, written in the transaction that acted on the runs. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, [{ seq: 1, outcome: 'failed', error: { code: 'conflict', message: 'sample' } }]] })
  async recordOutcomes(m: EntityManager, id: string, outcomes: ItemOutcomeToWrite[]): Promise<void> {
    await m.query(
      `UPDATE bulk_action_items i
          SET outcome = o.outcome, error = o.error, processed_at = clock_timestamp()
         FROM jsonb_to_recordset($2::jsonb) AS o (seq integer, outcome text, error jsonb)
        WHERE i.bulk_action_id = $1 AND i.seq = o.seq AND i.outcome = 'pending'`,
      [id, JSON.stringify(outcomes)],
    );
  }

  /** Counts a batch in, and ends the action when nothing is left pending (`done`), or fails it. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, 3, 1, 'running'] })
  async advance(m: EntityManager, id: string, succeeded: number, failed: number, status: 'running' | 'completed' | 'failed'): Promise<BulkActionRow> {
    const [[row]]: [BulkActionRow[]] = await m.query(
      `UPDATE bulk_actions ba
          SET processed = ba.processed + $2::int + $3::int, succeeded = ba.succeeded + $2::int, failed = ba.failed + $3::int, status = $4::text,
              finished_at = CASE WHEN $4::text = 'running' THEN NULL ELSE clock_timestamp() END, updated_at = clock_timestamp()
        WHERE ba.id = $1
      RETURNING ${COLUMNS}`,
      [id, succeeded, failed, status],
    );
    return row;
  }
}
