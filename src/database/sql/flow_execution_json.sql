-- The execution as the retrieve endpoint answers it with include_run_number (toFlowExecutionResponse),
-- for events written in SQL. Since 1765600000000-Redrive.
CREATE OR REPLACE FUNCTION flow_execution_json(fe flow_executions) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', fe.id,
    'created_at', to_char(fe.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'updated_at', to_char(fe.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'modified_by', fe.modified_by,
    'flow_id', fe.flow_id,
    'flow_version', fe.flow_version,
    'status', fe.status,
    'input', fe.input,
    'organization_id', fe.organization_id,
    'pricing_config_id', fe.pricing_config_id,
    'total_credits', NULL,
    'triggered_task_executor_name', fe.triggered_task_executor_name,
    'run_number', fe.run_number,
    'redrive_count', fe.redrive_count)
$$;
