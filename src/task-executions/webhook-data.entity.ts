import { Column, Entity, ForeignKey, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { FlowExecutionEntity } from '../flow-executions/flow-execution.entity';
import { TaskExecutionEntity } from './task-execution.entity';

/** Data posted for a webhook_receiver task of a flow execution: one per task, first write wins. */
@Entity('webhook_data')
@Unique('webhook_data_task_uq', ['flow_execution_id', 'task_name'])
export class WebhookDataEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  organization_id: string;

  @Column('uuid')
  @ForeignKey(() => FlowExecutionEntity, { name: 'webhook_data_flow_execution_id_fkey' })
  flow_execution_id: string;

  @Column('varchar', { length: 200 })
  task_name: string;

  @Column('jsonb')
  data: Record<string, unknown>;

  @Column('varchar', { length: 255 })
  received_by: string;

  @Column('timestamptz', { default: () => 'now()' })
  created_at: Date;

  /** The task execution the data completed; null while it waits for that task to run. */
  @Column('uuid', { nullable: true })
  @ForeignKey(() => TaskExecutionEntity, { name: 'webhook_data_task_execution_id_fkey' })
  task_execution_id: string | null;

  @Column('timestamptz', { nullable: true })
  applied_at: Date | null;
}
