import { MigrationInterface, QueryRunner } from 'typeorm';

/** `append_flow_events` as in 1764500000001, plus the webhook outbox (see `up`). */
const APPEND_WITH_OUTBOX = `
  CREATE OR REPLACE FUNCTION append_flow_events(p_organization_id uuid, p_events jsonb, p_touched text[]) RETURNS void
  LANGUAGE plpgsql AS $$
  DECLARE
    v_queued integer;
  BEGIN
    IF jsonb_array_length(p_events) > 0 THEN
      -- 'flow' in ASCII: the per-organization ordering lock, held until commit.
      PERFORM pg_advisory_xact_lock(1718382455, hashtext(p_organization_id::text));
      WITH written AS (
        INSERT INTO flow_events (organization_id, flow_id, flow_execution_id, type, occurred_at, payload)
        SELECT p_organization_id, e.flow_id, e.flow_execution_id, e.type, clock_timestamp(), e.payload
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS item (value, n),
               jsonb_to_record(item.value) AS e (flow_id uuid, flow_execution_id uuid, type text, payload jsonb)
         ORDER BY item.n
        RETURNING id, flow_id, type
      ), queued AS (
        -- The outbox: a delivery per event and enabled matching webhook, committed with the event.
        INSERT INTO webhook_deliveries (webhook_id, organization_id, event_id, event_type, next_attempt_at)
        SELECT w.id, p_organization_id, written.id, written.type, now()
          FROM written
          JOIN webhooks w ON w.organization_id = p_organization_id AND w.status = 'enabled'
           AND (w.flow_id IS NULL OR w.flow_id = written.flow_id)
           AND (w.event_types IS NULL OR written.type = ANY (w.event_types))
        RETURNING 1
      )
      SELECT count(*) INTO v_queued FROM queued;
      IF v_queued > 0 THEN
        PERFORM pg_notify('webhook_deliveries', '');
      END IF;
    END IF;
    -- Delivered at commit only; one per execution.
    PERFORM pg_notify('flow_execution_changes', p_organization_id::text || ' ' || changed.id)
       FROM (SELECT e.value ->> 'flow_execution_id' AS id FROM jsonb_array_elements(p_events) AS e
             UNION SELECT unnest(p_touched)) changed;
  END
  $$`;

const APPEND_WITHOUT_OUTBOX = `
  CREATE OR REPLACE FUNCTION append_flow_events(p_organization_id uuid, p_events jsonb, p_touched text[]) RETURNS void
  LANGUAGE plpgsql AS $$
  BEGIN
    IF jsonb_array_length(p_events) > 0 THEN
      PERFORM pg_advisory_xact_lock(1718382455, hashtext(p_organization_id::text));
      INSERT INTO flow_events (organization_id, flow_id, flow_execution_id, type, occurred_at, payload)
      SELECT p_organization_id, e.flow_id, e.flow_execution_id, e.type, clock_timestamp(), e.payload
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS item (value, n),
             jsonb_to_record(item.value) AS e (flow_id uuid, flow_execution_id uuid, type text, payload jsonb)
       ORDER BY item.n;
    END IF;
    PERFORM pg_notify('flow_execution_changes', p_organization_id::text || ' ' || changed.id)
       FROM (SELECT e.value ->> 'flow_execution_id' AS id FROM jsonb_array_elements(p_events) AS e
             UNION SELECT unnest(p_touched)) changed;
  END
  $$`;

export class Webhooks1765000000000 implements MigrationInterface {
  name = 'Webhooks1765000000000';

  async up(q: QueryRunner): Promise<void> {
    // The signing secret is kept as issued: the service must sign with it, so a hash would not do.
    await q.query(`
      CREATE TABLE webhooks (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        url varchar(2048) NOT NULL,
        event_types text[],
        flow_id uuid,
        description text,
        status varchar(16) NOT NULL DEFAULT 'enabled',
        disabled_reason text,
        secret varchar(128) NOT NULL,
        previous_secret varchar(128),
        previous_secret_expires_at timestamptz,
        consecutive_failures integer NOT NULL DEFAULT 0,
        failing_since timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        modified_by varchar(255) NOT NULL
      )`);
    await q.query(`CREATE INDEX webhooks_org_idx ON webhooks (organization_id, created_at, id)`);
    // The outbox probe on every event append, and the worker's scan of endpoints with work.
    await q.query(`CREATE INDEX webhooks_enabled_idx ON webhooks (organization_id) WHERE status = 'enabled'`);
    await q.query(`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        webhook_id uuid NOT NULL,
        organization_id uuid NOT NULL,
        event_id bigint NOT NULL,
        event_type varchar(64) NOT NULL,
        status varchar(16) NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE
      )`);
    // A webhook's due deliveries (the claim), its pending ones (disabling) and all of them (the cascade of a delete).
    await q.query(`CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, status, next_attempt_at)`);
    await q.query(`CREATE INDEX webhook_deliveries_next_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`);
    // Retention removes finished deliveries oldest first.
    await q.query(`CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at)`);
    await q.query(`
      CREATE TABLE webhook_attempts (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        delivery_id uuid NOT NULL,
        webhook_id uuid NOT NULL,
        attempt integer NOT NULL,
        response_status integer,
        error text,
        duration_ms integer NOT NULL,
        attempted_at timestamptz NOT NULL,
        next_attempt_at timestamptz,
        CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES webhook_deliveries (id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX webhook_attempts_webhook_idx ON webhook_attempts (webhook_id, id)`);
    await q.query(`CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id)`);
    // The event append writes the outbox in the same statement, and wakes the delivery workers.
    await q.query(APPEND_WITH_OUTBOX);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(APPEND_WITHOUT_OUTBOX);
    await q.query(`DROP TABLE webhook_attempts`);
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhooks`);
  }
}
