-- The event append in one round trip. A function runs its statements in order, so the organization's
-- ordering lock is provably taken before any id is allocated. It also writes the webhook outbox and
-- wakes the delivery workers. start_flow_execution writes a create's one event the same way, without
-- calling it (a change here is a change there; test/e2e/create-path compares the two). Since 1765000000000-Webhooks.
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
$$;
