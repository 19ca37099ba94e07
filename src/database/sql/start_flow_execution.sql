-- A create in one statement, so the organization's and the flow's row locks are held for microseconds
-- rather than across round trips: lock the organization (its limit and slots in use), take the flow's
-- next run number and a strictly later created_at, insert, then append the created event through
-- append_flow_events as the last statement, as EventLogRepository.append does. The trace context
-- parameters default to NULL, so a caller that sends the eight others still works.
-- Since 1765500000000-TraceContext.
CREATE OR REPLACE FUNCTION start_flow_execution(p_org uuid, p_flow uuid, p_version integer, p_input jsonb, p_input_task_name text,
                                                p_triggered_task_executor_name text, p_modified_by text, p_default_limit integer,
                                                p_traceparent text DEFAULT NULL, p_tracestate text DEFAULT NULL)
RETURNS SETOF flow_executions LANGUAGE plpgsql AS $$
DECLARE
  org organizations%ROWTYPE;
  next_run_number integer;
  next_created_at timestamptz;
  created flow_executions%ROWTYPE;
BEGIN
  SELECT * INTO org FROM organizations WHERE id = p_org FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO organizations (id) VALUES (p_org) ON CONFLICT (id) DO NOTHING;
    SELECT * INTO org FROM organizations WHERE id = p_org FOR UPDATE;
  END IF;
  UPDATE flows
     SET executions_count = executions_count + 1,
         last_execution_at = GREATEST(clock_timestamp(), last_execution_at + interval '1 microsecond')
   WHERE id = p_flow AND organization_id = p_org AND NOT deleted
   RETURNING executions_count, last_execution_at INTO next_run_number, next_created_at;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, input_task_name,
                               triggered_task_executor_name, modified_by, created_at, updated_at, traceparent, tracestate)
  VALUES (p_org, p_flow, p_version,
          CASE WHEN org.active_executions < COALESCE(org.max_concurrent_executions, p_default_limit) THEN 'running' ELSE 'queued' END,
          p_input, next_run_number, p_input_task_name, p_triggered_task_executor_name, p_modified_by, next_created_at, next_created_at,
          p_traceparent, p_tracestate)
  RETURNING * INTO created;
  PERFORM append_flow_events(p_org, jsonb_build_array(jsonb_build_object(
    'flow_id', p_flow, 'flow_execution_id', created.id, 'type', 'flow_execution.created',
    'payload', jsonb_build_object('flow_execution', flow_execution_json(created), 'previous_status', NULL))), '{}');
  RETURN NEXT created;
END $$;
