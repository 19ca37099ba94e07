import { MigrationInterface, QueryRunner } from 'typeorm';

export class FlowChanges1765700000000 implements MigrationInterface {
  name = 'FlowChanges1765700000000';

  async up(q: QueryRunner): Promise<void> {
    // Every process caches each flow's latest version for creates; a new version or a deletion, by any path, tells them all at commit.
    await q.query(`
      CREATE FUNCTION notify_flow_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('flow_changes', NEW.id::text);
        RETURN NULL;
      END $$`);
    await q.query(
      `CREATE TRIGGER flows_flow_change AFTER UPDATE ON flows
         FOR EACH ROW WHEN (OLD.latest_version IS DISTINCT FROM NEW.latest_version OR OLD.deleted IS DISTINCT FROM NEW.deleted)
         EXECUTE FUNCTION notify_flow_change()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER flows_flow_change ON flows`);
    await q.query(`DROP FUNCTION notify_flow_change()`);
  }
}
