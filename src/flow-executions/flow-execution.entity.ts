import { Column, Entity, ForeignKey, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { sqlList } from '../database/sql-literals';
import { FlowEntity } from '../flows/flow.entity';
import { ACTIVE_STATUSES, ExecutionStatus, TERMINAL_STATUSES } from './execution-status';

@Entity('flow_executions')
@Unique('flow_executions_run_number_uq', ['flow_id', 'run_number'])
@Index('flow_executions_flow_created_idx', ['flow_id', 'created_at', 'id'], { where: "status <> 'deleted'" })
@Index('flow_executions_flow_updated_idx', ['flow_id', 'updated_at', 'id'], { where: "status <> 'deleted'" })
@Index('flow_executions_org_queued_idx', ['organization_id', 'created_at', 'id'], { where: "status = 'queued'" })
@Index('flow_executions_org_active_idx', ['organization_id'], { where: `status IN ${sqlList(ACTIVE_STATUSES)}` })
@Index('flow_executions_timeout_idx', ['timeout_at'], { where: 'timeout_at IS NOT NULL' })
@Index('flow_executions_flow_terminal_idx', ['flow_id', 'terminal_at'], { where: `status IN ${sqlList(TERMINAL_STATUSES)}` })
// (flow_id, created_at) INCLUDE (status, flow_version, run_number, updated_at, terminal_at): TypeORM cannot declare INCLUDE.
@Index('flow_executions_flow_stats_idx', { synchronize: false })
export class FlowExecutionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  organization_id: string;

  @Column('uuid')
  @ForeignKey(() => FlowEntity, { name: 'flow_executions_flow_id_fkey' })
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

  /** How many times the run was redriven (docs/api.md#redrive). */
  @Column('integer', { default: 0 })
  redrive_count: number;

  /** When the run last entered completed, failed or cancelled; null in any other status. Kept by a trigger. */
  @Column('timestamptz', { nullable: true })
  terminal_at: Date | null;

  /** When the run last started running from a waiting or ended status (execution_seconds counts from it); kept by a trigger. */
  @Column('timestamptz', { nullable: true })
  running_since: Date | null;

  /** The run's next due time in its flow's `settings.timeouts`, and which timeout it is; kept by a trigger. */
  @Column('timestamptz', { nullable: true })
  timeout_at: Date | null;

  @Column('varchar', { length: 32, nullable: true })
  timeout_reason: string | null;

  /** W3C traceparent of the request that created (or last re-executed) the run; docs/api.md#trace-context. */
  @Column('varchar', { length: 55, nullable: true })
  traceparent: string | null;

  /** The tracestate that came with it. */
  @Column('varchar', { length: 512, nullable: true })
  tracestate: string | null;
}
