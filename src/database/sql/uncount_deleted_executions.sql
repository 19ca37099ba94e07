-- Slots freed by deleted rows. Deletes come only from maintenance in bulk: one update per organization,
-- not one per row. Since 1765100000002-CreateInOneStatement.
CREATE OR REPLACE FUNCTION uncount_deleted_executions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE organizations o SET active_executions = o.active_executions - gone.n
    FROM (SELECT organization_id, count(*)::int AS n FROM removed WHERE status IN ('running', 'awaiting_input', 'cancel_requested') GROUP BY organization_id) gone
   WHERE o.id = gone.organization_id;
  RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER flow_executions_active_delete AFTER DELETE ON flow_executions
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION uncount_deleted_executions();
