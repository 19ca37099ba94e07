import { MigrationInterface, QueryRunner } from 'typeorm';

export class ReportInOneStatement1765700000001 implements MigrationInterface {
  name = 'ReportInOneStatement1765700000001';

  async up(q: QueryRunner): Promise<void> {
    // A version's task names beside its definition: a task report checks its names in the statement that records them.
    await q.query(`ALTER TABLE flow_versions ADD COLUMN task_names text[] NOT NULL DEFAULT '{}'`);
    await q.query(`
      CREATE FUNCTION flow_version_task_names() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.task_names := ARRAY(
          SELECT name #>> '{}'
            FROM jsonb_path_query(NEW.definition, 'strict $.flow_configs[*].config.tasks[*].name', '{}', true) AS name
           WHERE jsonb_typeof(name) = 'string' AND btrim(name #>> '{}') <> '');
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER flow_versions_task_names BEFORE INSERT OR UPDATE OF definition ON flow_versions
        FOR EACH ROW EXECUTE FUNCTION flow_version_task_names()`);
    // The trigger fills the versions written before it.
    await q.query(`UPDATE flow_versions SET definition = definition`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER flow_versions_task_names ON flow_versions`);
    await q.query(`DROP FUNCTION flow_version_task_names()`);
    await q.query(`ALTER TABLE flow_versions DROP COLUMN task_names`);
  }
}
