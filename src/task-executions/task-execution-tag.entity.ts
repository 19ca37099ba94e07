import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A `tag_type:tag` label on a task of a flow execution (every attempt of it); the executions list filters by active ones. */
@Entity('task_execution_tags')
export class TaskExecutionTagEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  organization_id: string;

  @Column('uuid')
  flow_execution_id: string;

  @Column('varchar', { length: 200 })
  task_name: string;

  @Column('varchar', { length: 100 })
  tag_type: string;

  @Column('varchar', { length: 200 })
  tag: string;

  @Column('jsonb', { nullable: true })
  tag_metadata: unknown;

  /** `active` or `deleted` (soft delete keeps the history). */
  @Column('varchar', { length: 16, default: 'active' })
  status: 'active' | 'deleted';

  @Column('varchar', { length: 255, nullable: true })
  modified_by: string | null;

  @Column('timestamptz')
  created_at: Date;

  @Column('timestamptz')
  updated_at: Date;
}
