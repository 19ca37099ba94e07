import { Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { EventType } from '../event-log/event-types';

export const WEBHOOK_STATUSES = ['enabled', 'disabled'] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** An organization's endpoint; the outbox (EventLogRepository.append) queues a delivery for each matching event. */
@Entity('webhooks')
@Index('webhooks_org_idx', ['organization_id', 'created_at', 'id'])
@Index('webhooks_enabled_idx', ['organization_id'], { where: `status = 'enabled'` })
@Index('webhooks_previous_secret_expires_idx', ['previous_secret_expires_at'], { where: 'previous_secret IS NOT NULL' })
export class WebhookEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  organization_id: string;

  @Column('varchar', { length: 2048 })
  url: string;

  /** Null: every type, including types added later. */
  @Column('text', { array: true, nullable: true })
  event_types: EventType[] | null;

  @Column('uuid', { nullable: true })
  flow_id: string | null;

  @Column('text', { nullable: true })
  description: string | null;

  @Column('varchar', { length: 16, default: 'enabled' })
  status: WebhookStatus;

  @Column('text', { nullable: true })
  disabled_reason: string | null;

  @Column('varchar', { length: 128, select: false })
  secret: string;

  /** The secret before the last rotation, still signed with until `previous_secret_expires_at`, then cleared. */
  @Column('varchar', { length: 128, nullable: true, select: false })
  previous_secret: string | null;

  @Column('timestamptz', { nullable: true })
  previous_secret_expires_at: Date | null;

  /** Messages that ended `failed` since the last success. */
  @Column('integer', { default: 0 })
  consecutive_failures: number;

  /** The first failed attempt since the last success. */
  @Column('timestamptz', { nullable: true })
  failing_since: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;

  @Column('varchar', { length: 255 })
  modified_by: string;
}

/** One message: an event for one webhook (or a redelivery of it), retried until it succeeds or fails for good. */
@Entity('webhook_deliveries')
@Index('webhook_deliveries_webhook_idx', ['webhook_id', 'status', 'next_attempt_at'])
@Index('webhook_deliveries_next_idx', ['next_attempt_at'], { where: `status = 'pending'` })
@Index('webhook_deliveries_created_idx', ['created_at'])
@Index('webhook_deliveries_pending_event_idx', ['event_id'], { where: `status = 'pending'` })
export class WebhookDeliveryEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  @ForeignKey(() => WebhookEntity, { name: 'webhook_deliveries_webhook_id_fkey', onDelete: 'CASCADE' })
  webhook_id: string;

  @Column('uuid')
  organization_id: string;

  @Column('bigint')
  event_id: string;

  @Column('varchar', { length: 64 })
  event_type: EventType;

  @Column('varchar', { length: 16, default: 'pending' })
  status: DeliveryStatus;

  /** Attempts started; also the fencing token of the current one. */
  @Column('integer', { default: 0 })
  attempts: number;

  /**
   * The event as sent (`type`, `occurred_at`, `payload`), kept here once retention removes it from the
   * event log while the delivery is pending; null while the log has it.
   */
  @Column('jsonb', { nullable: true, select: false })
  event: Record<string, unknown> | null;

  /** When pending: when it is due, or when the lease of the attempt in flight runs out. */
  @Column('timestamptz', { nullable: true })
  next_attempt_at: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}

/** The delivery log: one row an attempt that came back (with a response or an error). */
@Entity('webhook_attempts')
@Index('webhook_attempts_webhook_idx', ['webhook_id', 'id'])
@Index('webhook_attempts_delivery_idx', ['delivery_id'])
export class WebhookAttemptEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id: string;

  @Column('uuid')
  @ForeignKey(() => WebhookDeliveryEntity, { name: 'webhook_attempts_delivery_id_fkey', onDelete: 'CASCADE' })
  delivery_id: string;

  @Column('uuid')
  webhook_id: string;

  @Column('integer')
  attempt: number;

  @Column('integer', { nullable: true })
  response_status: number | null;

  @Column('text', { nullable: true })
  error: string | null;

  @Column('integer')
  duration_ms: number;

  @Column('timestamptz')
  attempted_at: Date;

  @Column('timestamptz', { nullable: true })
  next_attempt_at: Date | null;
}
