import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One `Idempotency-Key` per organization and operation: the first request's outcome, or its lock while it runs. */
@Entity('idempotency_keys')
@Index('idempotency_keys_created_idx', ['created_at'])
export class IdempotencyKeyEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'idempotency_keys_pkey' })
  organization_id: string;

  /** The route: method and path pattern, e.g. `POST /api/flow-executions/:flow_execution_id/cancel`. */
  @PrimaryColumn('varchar', { length: 255, primaryKeyConstraintName: 'idempotency_keys_pkey' })
  operation: string;

  @PrimaryColumn('varchar', { length: 255, primaryKeyConstraintName: 'idempotency_keys_pkey' })
  key: string;

  /** SHA-256 of the method, path, sorted query and canonical JSON body. */
  @Column('char', { length: 64 })
  request_hash: string;

  /** The request holding the key while it runs; only it may store or release the outcome. */
  @Column('uuid')
  owner: string;

  /** A running request that has not finished by then is taken to have died with its process. */
  @Column('timestamptz')
  locked_until: Date;

  /** Null while the first request runs. */
  @Column('smallint', { nullable: true })
  response_status: number | null;

  @Column('jsonb', { nullable: true })
  response_body: unknown;

  @Column('timestamptz', { default: () => 'now()' })
  created_at: Date;
}
