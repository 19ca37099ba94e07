-- Every process caches each flow's latest version for creates; a new version or a deletion, by any
-- path, tells them all at commit (payload: the flow's id). The trigger names its columns: an update of
-- neither (a create's run number, every create) does not evaluate its condition. Since 1766100000000-LeanerCreate.
CREATE OR REPLACE FUNCTION notify_flow_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('flow_changes', NEW.id::text);
  RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER flows_flow_change AFTER UPDATE OF latest_version, deleted ON flows
  FOR EACH ROW WHEN (OLD.latest_version IS DISTINCT FROM NEW.latest_version OR OLD.deleted IS DISTINCT FROM NEW.deleted)
  EXECUTE FUNCTION notify_flow_change();
