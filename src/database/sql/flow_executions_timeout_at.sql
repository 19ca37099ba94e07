-- A run's next due time (execution_seconds, awaiting_input_seconds, cancel_seconds of its flow's
-- settings.timeouts) and which it is, kept by a trigger on every status change, so that every path
-- into an active status sets it; the liveness sweep walks flow_executions_timeout_idx.
-- Since 1765400000000-Liveness.
CREATE OR REPLACE FUNCTION flow_executions_timeout_at() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  t jsonb;
  wait text;
  why text;
  due timestamptz;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
    RETURN NEW;
  END IF;
  -- execution_seconds counts from the run's first running, or from a re-execution's.
  IF NEW.status = 'running' AND (TG_OP = 'INSERT' OR OLD.status NOT IN ('running', 'awaiting_input', 'cancel_requested')) THEN
    NEW.running_since := clock_timestamp();
  END IF;
  NEW.timeout_at := NULL;
  NEW.timeout_reason := NULL;
  IF NEW.status NOT IN ('running', 'awaiting_input', 'cancel_requested') THEN
    RETURN NEW;
  END IF;
  SELECT f.settings -> 'timeouts' INTO t FROM flows f WHERE f.id = NEW.flow_id;
  IF t IS NULL OR jsonb_typeof(t) <> 'object' THEN
    RETURN NEW;
  END IF;
  IF t ->> 'execution_seconds' IS NOT NULL AND NEW.running_since IS NOT NULL THEN
    NEW.timeout_at := NEW.running_since + make_interval(secs => (t ->> 'execution_seconds')::double precision);
    NEW.timeout_reason := 'execution_timeout';
  END IF;
  IF NEW.status = 'awaiting_input' THEN
    wait := t ->> 'awaiting_input_seconds';
    why := 'awaiting_input_timeout';
  ELSIF NEW.status = 'cancel_requested' THEN
    wait := t ->> 'cancel_seconds';
    why := 'cancel_timeout';
  END IF;
  IF wait IS NOT NULL THEN
    due := clock_timestamp() + make_interval(secs => wait::double precision);
    IF NEW.timeout_at IS NULL OR due < NEW.timeout_at THEN
      NEW.timeout_at := due;
      NEW.timeout_reason := why;
    END IF;
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER flow_executions_timeout_at BEFORE INSERT OR UPDATE OF status ON flow_executions
  FOR EACH ROW EXECUTE FUNCTION flow_executions_timeout_at();
