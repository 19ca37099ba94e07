import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import type { ProcessingStatus } from './dto/task-status.dto';
import type { TaskExecutionRow } from './task-execution.entity';
import { COLUMNS } from './task-executions.repository';

export interface StoredWebhookData {
  id: string;
  data: Record<string, unknown>;
  received_by: string;
  task_execution_id: string | null;
  /** Whether the stored data equals the data asked about (as JSON values: key order and spacing do not count). */
  same: boolean | null;
}

/** The latest attempt of a task and the task's latest reported status. */
export interface TaskAttempt {
  id: string;
  task_name: string;
  processing_status: ProcessingStatus;
  reported_status: string | null;
}

/** Hand-written SQL; callers hold the run's locks (organization, then the execution row). */
@Injectable()
export class WebhookDataRepository {
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, 'approve', { approved: true }] })
  async findForTask(m: EntityManager, flowExecutionId: string, taskName: string, data: unknown = null): Promise<StoredWebhookData | undefined> {
    const rows: StoredWebhookData[] = await m.query(
      `SELECT id, data, received_by, task_execution_id, data = $3::jsonb AS same
         FROM webhook_data WHERE flow_execution_id = $1 AND task_name = $2
        FOR UPDATE`,
      [flowExecutionId, taskName, JSON.stringify(data)],
    );
    return rows[0];
  }

  @GenerateSql({
    params: [
      DummyValue.MANAGER,
      { organizationId: DummyValue.UUID2, flowExecutionId: DummyValue.UUID, taskName: 'approve', data: { approved: true }, receivedBy: 'sample' },
    ],
  })
  async insert(
    m: EntityManager,
    row: { organizationId: string; flowExecutionId: string; taskName: string; data: unknown; receivedBy: string },
  ): Promise<string> {
    const rows: { id: string }[] = await m.query(
      `INSERT INTO webhook_data (organization_id, flow_execution_id, task_name, data, received_by, created_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, clock_timestamp())
       RETURNING id`,
      [row.organizationId, row.flowExecutionId, row.taskName, JSON.stringify(row.data), row.receivedBy],
    );
    return rows[0].id;
  }

  /** Locks the task's latest (not deleted) attempt. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, 'approve'] })
  async latestAttempt(m: EntityManager, flowExecutionId: string, taskName: string): Promise<TaskAttempt | undefined> {
    const rows: TaskAttempt[] = await m.query(
      `SELECT te.id, te.task_name, te.processing_status,
              (SELECT s.status FROM flow_task_statuses s
                WHERE s.flow_execution_id = te.flow_execution_id AND s.task_name = te.task_name
                ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS reported_status
         FROM task_executions te
        WHERE te.flow_execution_id = $1 AND te.task_name = $2 AND te.processing_status <> 'deleted'
        ORDER BY te.task_execution_idx DESC
        LIMIT 1
        FOR UPDATE OF te`,
      [flowExecutionId, taskName],
    );
    return rows[0];
  }

  /** The data becomes the task execution's output and the task execution completes. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, { approved: true }, 'sample'] })
  async complete(m: EntityManager, taskExecutionId: string, data: unknown, modifiedBy: string): Promise<TaskExecutionRow> {
    const [rows]: [TaskExecutionRow[]] = await m.query(
      `UPDATE task_executions te
          SET output = $2::jsonb, processing_status = 'completed', started_at = COALESCE(te.started_at, clock_timestamp()),
              completed_at = clock_timestamp(), modified_by = $3,
              updated_at = GREATEST(clock_timestamp(), te.updated_at + interval '1 microsecond')
        WHERE te.id = $1
      RETURNING ${COLUMNS}`,
      [taskExecutionId, JSON.stringify(data), modifiedBy],
    );
    return rows[0];
  }

  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, DummyValue.UUID2] })
  async markApplied(m: EntityManager, id: string, taskExecutionId: string): Promise<void> {
    await m.query(`UPDATE webhook_data SET task_execution_id = $2, applied_at = clock_timestamp() WHERE id = $1`, [id, taskExecutionId]);
  }
}
