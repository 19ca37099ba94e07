import { MigrationInterface, QueryRunner } from 'typeorm';

export class IdempotencyKeys1765100000000 implements MigrationInterface {
  name = 'IdempotencyKeys1765100000000';

  async up(q: QueryRunner): Promise<void> {
    // The first request's row is the lock: its primary key makes concurrent duplicates conflict in every process.
    await q.query(`
      CREATE TABLE idempotency_keys (
        organization_id uuid NOT NULL,
        operation varchar(255) NOT NULL,
        key varchar(255) NOT NULL,
        request_hash char(64) NOT NULL,
        owner uuid NOT NULL,
        locked_until timestamptz NOT NULL,
        response_status smallint,
        response_body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT idempotency_keys_pkey PRIMARY KEY (organization_id, operation, key)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE idempotency_keys`);
  }
}
