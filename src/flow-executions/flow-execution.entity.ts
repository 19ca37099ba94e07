import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ExecutionStatus } from './execution-status';

@Entity('flow_executions')
export class FlowExecutionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  organization_id: string;

  @Column('uuid')
  flow_id: string;

  @Column('integer')
  flow_version: number;

  @Column('varchar', { length: 32 })
  status: ExecutionStatus;

  @Column('jsonb')
  input: Record<string, unknown>;

  /** 1-based position among all executions of the flow by creation; allocated once, never changes. */
  @Column('integer')
  run_number: number;

  @Column('varchar', { length: 255, nullable: true })
  input_task_name: string | null;

  @Column('varchar', { length: 255, nullable: true })
  triggered_task_executor_name: string | null;

  @Column('uuid', { nullable: true })
  pricing_config_id: string | null;

  @Column('varchar', { length: 255 })
  modified_by: string;

  @Column('timestamptz')
  created_at: Date;

  @Column('timestamptz')
  updated_at: Date;
}
