import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import { sqlList } from '../database/sql-literals';
import type { FlowExecutionRow } from '../flow-executions/dto/flow-execution.dto';
import { ExecutionStatus, TERMINAL_STATUSES } from '../flow-executions/execution-status';
import { COLUMNS } from '../flow-executions/flow-executions.repository';

export interface DueExecution {
  organization_id: string;
  id: string;
}

// The flow's TTL as an interval; flows without one never match.
const TTL = `make_interval(secs => (f.settings #>> '{ttl,seconds}')::double precision)`;
const TERMINAL = sqlList(TERMINAL_STATUSES);

@Injectable()
export class RetentionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Executions past their flow's TTL, oldest first per flow, without locking: each flow's due rows
   * come from flow_executions_flow_terminal_idx (flow_id, terminal_at) over terminal rows only.
   */
  @GenerateSql({ params: [100] })
  async findDue(limit: number): Promise<DueExecution[]> {
    return this.dataSource.query(
      `SELECT due.organization_id, due.id
         FROM flows f
         CROSS JOIN LATERAL (
           SELECT fe.organization_id, fe.id
             FROM flow_executions fe
            WHERE fe.flow_id = f.id AND fe.status IN ${TERMINAL} AND fe.terminal_at <= clock_timestamp() - ${TTL}
            ORDER BY fe.terminal_at
            LIMIT $1
         ) due
        WHERE f.settings #>> '{ttl,seconds}' IS NOT NULL
        LIMIT $1`,
      [limit],
    );
  }

  /** The organization's row lock, unless someone holds it: a sweep never waits, it comes back next time. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async tryLockOrganization(m: EntityManager, organizationId: string): Promise<boolean> {
    const rows: unknown[] = await m.query(`SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE SKIP LOCKED`, [organizationId]);
    return rows.length > 0;
  }

  /**
   * Soft-deletes those of `ids` that are still due, skipping rows another transaction holds (another
   * replica's sweep, an API write): each is deleted once, and nobody waits for the sweep's locks.
   */
  @GenerateSql({ params: [DummyValue.MANAGER, [DummyValue.UUID, DummyValue.UUID2]] })
  async deleteDue(m: EntityManager, ids: string[]): Promise<(FlowExecutionRow & { previous_status: ExecutionStatus })[]> {
    const [rows]: [(FlowExecutionRow & { previous_status: ExecutionStatus })[]] = await m.query(
      `WITH due AS (
         SELECT fe.id, fe.status
           FROM flow_executions fe JOIN flows f ON f.id = fe.flow_id
          WHERE fe.id = ANY($1::uuid[]) AND fe.status IN ${TERMINAL} AND fe.terminal_at <= clock_timestamp() - ${TTL}
          FOR NO KEY UPDATE OF fe SKIP LOCKED
       )
       UPDATE flow_executions fe
          SET status = 'deleted', modified_by = 'retention',
              updated_at = GREATEST(clock_timestamp(), fe.updated_at + interval '1 microsecond')
         FROM due
        WHERE fe.id = due.id
      RETURNING ${COLUMNS}, due.status AS previous_status`,
      [ids],
    );
    return rows;
  }
}
