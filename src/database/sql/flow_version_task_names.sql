-- A version's task names (every flow config's tasks, as flowTasks reads them), kept beside its
-- definition: a task report checks the names it carries in the statement that records them.
-- Since 1765700000001-ReportInOneStatement.
CREATE OR REPLACE FUNCTION flow_version_task_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.task_names := ARRAY(
    SELECT name #>> '{}'
      FROM jsonb_path_query(NEW.definition, 'strict $.flow_configs[*].config.tasks[*].name', '{}', true) AS name
     WHERE jsonb_typeof(name) = 'string' AND btrim(name #>> '{}') <> '');
  RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER flow_versions_task_names BEFORE INSERT OR UPDATE OF definition ON flow_versions
  FOR EACH ROW EXECUTE FUNCTION flow_version_task_names();
