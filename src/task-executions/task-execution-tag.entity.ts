import { Column, Entity, ForeignKey, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { FlowExecutionEntity } from '../flow-executions/flow-execution.entity';
import { FlowEntity } from '../flows/flow.entity';

/** A `tag_type:tag` label on a task of a flow execution (every attempt of it); the executions list filters by active ones. */
@Entity('task_execution_tags')
@Unique('task_execution_tags_uq', ['flow_execution_id', 'task_name', 'tag_type', 'tag'])
@Index('task_execution_tags_org_tag_idx', ['organization_id', 'tag_type', 'tag', 'flow_execution_id'], { where: "status = 'active'" })
// (flow_id[, task_name], ((tag_type || ':' || tag) COLLATE "C")) WHERE active and the execution not deleted: expression indexes TypeORM cannot declare.
@Index('task_execution_tags_flow_label_idx', { synchronize: false })
@Index('task_execution_tags_flow_task_label_idx', { synchronize: false })
export class TaskExecutionTagEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  organization_id: string;

  @Column('uuid')
  @ForeignKey(() => FlowExecutionEntity, { name: 'task_execution_tags_flow_execution_id_fkey' })
  flow_execution_id: string;

  /** The execution's flow, copied so that a flow's tags are one index range. */
  @Column('uuid')
  @ForeignKey(() => FlowEntity, { name: 'task_execution_tags_flow_id_fkey' })
  flow_id: string;

  /** Set when the execution is deleted: its tags leave the flow's tag list (and stay, as its data does). */
  @Column('boolean', { default: false })
  execution_deleted: boolean;

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

  @Column('timestamptz', { default: () => 'now()' })
  created_at: Date;

  @Column('timestamptz', { default: () => 'now()' })
  updated_at: Date;
}
