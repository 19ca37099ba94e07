import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event append in one round trip. A function runs its statements in order, so the
 * organization's ordering lock is provably taken before any id is allocated.
 */
export class AppendFlowEventsFunction1764500000001 implements MigrationInterface {
  name = 'AppendFlowEventsFunction1764500000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION append_flow_events(p_organization_id uuid, p_events jsonb, p_touched text[]) RETURNS void
      LANGUAGE plpgsql AS $$
      BEGIN
        IF jsonb_array_length(p_events) > 0 THEN
          -- 'flow' in ASCII: the per-organization ordering lock, held until commit.
          PERFORM pg_advisory_xact_lock(1718382455, hashtext(p_organization_id::text));
          INSERT INTO flow_events (organization_id, flow_id, flow_execution_id, type, occurred_at, payload)
          SELECT p_organization_id, e.flow_id, e.flow_execution_id, e.type, clock_timestamp(), e.payload
            FROM jsonb_array_elements(p_events) WITH ORDINALITY AS item (value, n),
                 jsonb_to_record(item.value) AS e (flow_id uuid, flow_execution_id uuid, type text, payload jsonb)
           ORDER BY item.n;
        END IF;
        -- Delivered at commit only; one per execution.
        PERFORM pg_notify('flow_execution_changes', p_organization_id::text || ' ' || changed.id)
           FROM (SELECT e.value ->> 'flow_execution_id' AS id FROM jsonb_array_elements(p_events) AS e
                 UNION SELECT unnest(p_touched)) changed;
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION append_flow_events(uuid, jsonb, text[])`);
  }
}
