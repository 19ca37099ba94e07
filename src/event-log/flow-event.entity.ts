import { Check, Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { EventType } from './event-types';

/** One entry of the event log; written by `EventLog` only, in the transaction of the change. */
@Entity('flow_events')
@Index('flow_events_org_idx', ['organization_id', 'id'])
@Index('flow_events_flow_idx', ['flow_id', 'id'])
export class FlowEventEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id: string;

  @Column('uuid')
  organization_id: string;

  @Column('uuid')
  flow_id: string;

  @Column('uuid')
  flow_execution_id: string;

  @Column('varchar', { length: 64 })
  type: EventType;

  @Column('timestamptz')
  occurred_at: Date;

  /** `flow_execution`, `previous_status` and, for task events, `task_execution`, as the feed shows them. */
  @Column('jsonb')
  payload: Record<string, unknown>;
}

/** A single row: the highest event id that retention has removed. */
@Entity('flow_events_retention')
@Check('flow_events_retention_id_check', 'id')
export class FlowEventsRetentionEntity {
  @PrimaryColumn('boolean', { default: true })
  id: boolean;

  @Column('bigint', { default: 0 })
  purged_through: string;
}
