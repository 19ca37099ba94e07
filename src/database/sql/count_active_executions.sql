-- Slots in use (organizations.active_executions), kept on every insert and status change of
-- flow_executions, under the organization's row lock that every status change takes first.
-- Since 1765100000002-CreateInOneStatement.
CREATE OR REPLACE FUNCTION count_active_executions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE organizations
     SET active_executions = active_executions
           + CASE WHEN TG_OP <> 'DELETE' AND NEW.status IN ('running', 'awaiting_input', 'cancel_requested') THEN 1 ELSE 0 END
           - CASE WHEN TG_OP <> 'INSERT' AND OLD.status IN ('running', 'awaiting_input', 'cancel_requested') THEN 1 ELSE 0 END
   WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.organization_id ELSE NEW.organization_id END;
  RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER flow_executions_active_insert AFTER INSERT ON flow_executions
  FOR EACH ROW WHEN (NEW.status IN ('running', 'awaiting_input', 'cancel_requested')) EXECUTE FUNCTION count_active_executions();

CREATE OR REPLACE TRIGGER flow_executions_active_update AFTER UPDATE OF status ON flow_executions
  FOR EACH ROW WHEN ((OLD.status IN ('running', 'awaiting_input', 'cancel_requested')) <> (NEW.status IN ('running', 'awaiting_input', 'cancel_requested')))
  EXECUTE FUNCTION count_active_executions();
