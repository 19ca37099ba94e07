import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ProcessingStatus } from '../flow-executions/dto/task-status.dto';

export const EDITED_STATUSES = ['not_edited', 'edited_not_reexecuted', 'edited_reexecuted'] as const;
export type EditedStatus = (typeof EDITED_STATUSES)[number];

export const STALE_STATUSES = ['consistent', 'stale'] as const;
export type StaleStatus = (typeof STALE_STATUSES)[number];

/** Property names are the column names, so a raw SQL row is this entity as it stands. */
@Entity('task_executions')
export class TaskExecutionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Always the parent flow execution's organization. */
  @Column('uuid')
  organization_id: string;

  @Column('uuid')
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

  @Column('timestamptz')
  created_at: Date;

  @Column('timestamptz')
  updated_at: Date;
}
