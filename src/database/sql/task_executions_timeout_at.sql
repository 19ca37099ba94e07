-- A running task's due time: its last heartbeat or report plus its heartbeat timeout, or its start
-- of running plus its task timeout, whichever is sooner (settings.timeouts.tasks.<name> over
-- task_heartbeat_seconds / task_seconds, read when the task starts running). Every write of a
-- running task counts as a report. Since 1765400000000-Liveness.
CREATE OR REPLACE FUNCTION task_executions_timeout_at() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  t jsonb;
BEGIN
  IF NEW.processing_status IS DISTINCT FROM 'running' THEN
    NEW.timeout_at := NULL;
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' OR OLD.processing_status IS DISTINCT FROM 'running' THEN
    SELECT f.settings -> 'timeouts' INTO t
      FROM flow_executions fe JOIN flows f ON f.id = fe.flow_id
     WHERE fe.id = NEW.flow_execution_id;
    NEW.heartbeat_seconds := COALESCE(t #>> ARRAY['tasks', NEW.task_name, 'heartbeat_seconds'], t ->> 'task_heartbeat_seconds')::integer;
    NEW.running_deadline_at := clock_timestamp()
      + make_interval(secs => COALESCE(t #>> ARRAY['tasks', NEW.task_name, 'seconds'], t ->> 'task_seconds')::double precision);
  END IF;
  NEW.heartbeat_at := clock_timestamp();
  NEW.timeout_at := LEAST(NEW.heartbeat_at + make_interval(secs => NEW.heartbeat_seconds), NEW.running_deadline_at);
  RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER task_executions_timeout_at BEFORE INSERT OR UPDATE ON task_executions
  FOR EACH ROW EXECUTE FUNCTION task_executions_timeout_at();
