import { Check, Column, Entity, ForeignKey, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { FlowExecutionEntity } from '../flow-executions/flow-execution.entity';
import type { ProcessingStatus } from './dto/task-status.dto';

export const EDITED_STATUSES = ['not_edited', 'edited_not_reexecuted', 'edited_reexecuted'] as const;
export type EditedStatus = (typeof EDITED_STATUSES)[number];

export const STALE_STATUSES = ['consistent', 'stale'] as const;
export type StaleStatus = (typeof STALE_STATUSES)[number];

/** Property names are the column names, so a raw SQL row is this entity as it stands. */
@Entity('task_executions')
// The database's constraint also has INCLUDE (credits) (index-only credit sums); TypeORM can neither declare nor compare it.
@Unique('task_executions_task_uq', ['flow_execution_id', 'task_name', 'task_execution_idx'])
@Check('task_executions_task_execution_idx_check', 'task_execution_idx >= 0')
@Check('task_executions_credits_check', 'credits >= 0')
// (organization_id, created_at DESC, id DESC): TypeORM cannot declare column order, so it is told to leave the index alone.
@Index('task_executions_org_created_idx', { synchronize: false })
@Index('task_executions_timeout_idx', ['timeout_at'], { where: 'timeout_at IS NOT NULL' })
export class TaskExecutionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Always the parent flow execution's organization. */
  @Column('uuid')
  organization_id: string;

  @Column('uuid')
  @ForeignKey(() => FlowExecutionEntity, { name: 'task_executions_flow_execution_id_fkey' })
  flow_execution_id: string;

  @Column('varchar', { length: 200 })
  task_name: string;

  @Column('integer')
  task_execution_idx: number;

  @Column('varchar', { length: 32 })
  processing_status: ProcessingStatus;

  @Column('varchar', { length: 32, default: 'not_edited' })
  edited_status: EditedStatus;

  @Column('varchar', { length: 16, default: 'consistent' })
  stale_status: StaleStatus;

  @Column('jsonb', { nullable: true })
  input: unknown;

  @Column('jsonb', { nullable: true })
  output: unknown;

  @Column('jsonb', { nullable: true })
  error: unknown;

  @Column('jsonb', { nullable: true })
  source_task_executions: unknown;

  @Column('timestamptz', { nullable: true })
  started_at: Date | null;

  @Column('timestamptz', { nullable: true })
  completed_at: Date | null;

  @Column('integer', { nullable: true })
  credits: number | null;

  @Column('varchar', { length: 255, default: 'system' })
  modified_by: string;

  @Column('timestamptz', { default: () => 'now()' })
  created_at: Date;

  @Column('timestamptz', { default: () => 'now()' })
  updated_at: Date;

  /** The last heartbeat or report (of a running task, kept by a trigger), and the latest heartbeat's `details`. */
  @Column('timestamptz', { nullable: true })
  heartbeat_at?: Date | null;

  @Column('jsonb', { nullable: true })
  heartbeat_details?: unknown;

  /** The heartbeat timeout and the task timeout's deadline, fixed when the task starts running. */
  @Column('integer', { nullable: true })
  heartbeat_seconds?: number | null;

  @Column('timestamptz', { nullable: true })
  running_deadline_at?: Date | null;

  /** The sooner of the two while running; the liveness sweep walks task_executions_timeout_idx. */
  @Column('timestamptz', { nullable: true })
  timeout_at?: Date | null;
}

/** The JSON columns, which every query of the service reads as text (`::text`): spliced into answers and events unparsed (docs/api.md#event-loop-budget). */
export type TaskExecutionJsonColumn = 'input' | 'output' | 'error' | 'source_task_executions';

/** A task execution as the service's queries return it: the entity's columns, the JSON ones as PostgreSQL's text (null for SQL NULL). */
export type TaskExecutionRow = Omit<TaskExecutionEntity, TaskExecutionJsonColumn> & Record<TaskExecutionJsonColumn, string | null>;
