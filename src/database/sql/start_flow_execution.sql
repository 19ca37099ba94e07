-- A create in one statement. The contended locks come as late as the rules allow, and what they
-- guard is short: the webhooks the created event goes to are read first, under no lock (a webhook
-- enabled while a create runs may or may not receive it, as before). Then the organization's creates
-- queue on one advisory lock ('crea' in ASCII), held until commit: one queue, each commit handing it
-- to the next create, where waiting on the organization's row would wake every waiter at each commit
-- (each create updates that row, so its waiters all wait on the holder's transaction and then race
-- for the row's newest version); no other path takes it, so the order of locks below is unchanged
-- (a transaction must not hold the organization's row when it calls this: the service calls it as
-- a statement of its own).
-- Then the organization's row lock (its limit and slots in use), the flow's next run number and a
-- strictly later created_at with the insert in one statement, and last the created event, written
-- here as append_flow_events would write it (its ordering lock before the id is allocated, the
-- outbox, the delivery workers' wake-up), its JSON built once, without a round trip through an array
-- of events. The trace context parameters default to NULL, so a caller that sends the eight others
-- still works.
-- The change notification (flow_execution_changes) is the caller's to send, after the commit and in
-- a transaction of its own (FlowExecutionsRepository.start): PostgreSQL serializes the commits of all
-- transactions that NOTIFY, in every database, on one lock held until their WAL is flushed, so a
-- NOTIFY here would queue every create of every organization behind the one before it. Deliveries
-- still wake the workers from here, only when the organization has a matching webhook.
-- Since 1766200000000-CreateNotifiesAfterCommit.
CREATE OR REPLACE FUNCTION start_flow_execution(p_org uuid, p_flow uuid, p_version integer, p_input jsonb, p_input_task_name text,
                                                p_triggered_task_executor_name text, p_modified_by text, p_default_limit integer,
                                                p_traceparent text DEFAULT NULL, p_tracestate text DEFAULT NULL)
RETURNS SETOF flow_executions LANGUAGE plpgsql AS $$
DECLARE
  hooks uuid[];
  slot_free boolean;
  created flow_executions%ROWTYPE;
  event_id bigint;
BEGIN
  SELECT array_agg(w.id) INTO hooks
    FROM webhooks w
   WHERE w.organization_id = p_org AND w.status = 'enabled'
     AND (w.flow_id IS NULL OR w.flow_id = p_flow)
     AND (w.event_types IS NULL OR 'flow_execution.created' = ANY (w.event_types));
  PERFORM pg_advisory_xact_lock(1668441441, hashtext(p_org::text));
  SELECT o.active_executions < COALESCE(o.max_concurrent_executions, p_default_limit) INTO slot_free
    FROM organizations o WHERE o.id = p_org FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO organizations (id) VALUES (p_org) ON CONFLICT (id) DO NOTHING;
    SELECT o.active_executions < COALESCE(o.max_concurrent_executions, p_default_limit) INTO slot_free
      FROM organizations o WHERE o.id = p_org FOR UPDATE;
  END IF;
  WITH numbered AS (
    UPDATE flows
       SET executions_count = executions_count + 1,
           last_execution_at = GREATEST(clock_timestamp(), last_execution_at + interval '1 microsecond')
     WHERE id = p_flow AND organization_id = p_org AND NOT deleted
     RETURNING executions_count, last_execution_at
  )
  INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, input_task_name,
                               triggered_task_executor_name, modified_by, created_at, updated_at, traceparent, tracestate)
  SELECT p_org, p_flow, p_version, CASE WHEN slot_free THEN 'running' ELSE 'queued' END,
         p_input, n.executions_count, p_input_task_name, p_triggered_task_executor_name, p_modified_by, n.last_execution_at, n.last_execution_at,
         p_traceparent, p_tracestate
    FROM numbered n
  RETURNING * INTO created;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- append_flow_events for this one event: 'flow' in ASCII, the organization's ordering lock, held until commit.
  PERFORM pg_advisory_xact_lock(1718382455, hashtext(p_org::text));
  INSERT INTO flow_events (organization_id, flow_id, flow_execution_id, type, occurred_at, payload)
  VALUES (p_org, p_flow, created.id, 'flow_execution.created', clock_timestamp(),
          jsonb_build_object('flow_execution', flow_execution_json(created), 'previous_status', NULL))
  RETURNING id INTO event_id;
  IF hooks IS NOT NULL THEN
    INSERT INTO webhook_deliveries (webhook_id, organization_id, event_id, event_type, next_attempt_at)
    SELECT hook, p_org, event_id, 'flow_execution.created', now() FROM unnest(hooks) AS hook;
    PERFORM pg_notify('webhook_deliveries', '');
  END IF;
  RETURN NEXT created;
END $$;
