-- When a run reached a terminal status (what a flow's TTL counts from): a trigger, so that every path
-- into a terminal status sets it. Since 1764900000000-ExecutionTerminalAt.
CREATE OR REPLACE FUNCTION flow_executions_terminal_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
    NEW.terminal_at := CASE
      WHEN NEW.status IN ('completed', 'failed', 'cancelled') THEN clock_timestamp()
      WHEN NEW.status = 'deleted' AND TG_OP = 'UPDATE' THEN OLD.terminal_at
      ELSE NULL
    END;
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER flow_executions_terminal_at BEFORE INSERT OR UPDATE OF status ON flow_executions
  FOR EACH ROW EXECUTE FUNCTION flow_executions_terminal_at();
