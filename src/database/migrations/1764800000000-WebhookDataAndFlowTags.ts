import { MigrationInterface, QueryRunner } from 'typeorm';

// Webhook data for waiting tasks; task tags carry their execution's flow and whether it is deleted, so a flow's tag list walks an index.
export class WebhookDataAndFlowTags1764800000000 implements MigrationInterface {
  name = 'WebhookDataAndFlowTags1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_execution_tags ADD COLUMN flow_id uuid`);
    await q.query(`UPDATE task_execution_tags t SET flow_id = fe.flow_id FROM flow_executions fe WHERE fe.id = t.flow_execution_id`);
    await q.query(`ALTER TABLE task_execution_tags ALTER COLUMN flow_id SET NOT NULL`);
    await q.query(`ALTER TABLE task_execution_tags ADD CONSTRAINT task_execution_tags_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES flows (id)`);
    await q.query(`ALTER TABLE task_execution_tags ADD COLUMN execution_deleted boolean NOT NULL DEFAULT false`);
    await q.query(
      `UPDATE task_execution_tags t SET execution_deleted = true FROM flow_executions fe WHERE fe.id = t.flow_execution_id AND fe.status = 'deleted'`,
    );
    await q.query(
      `CREATE INDEX task_execution_tags_flow_label_idx ON task_execution_tags (flow_id, ((tag_type || ':' || tag) COLLATE "C")) WHERE status = 'active' AND NOT execution_deleted`,
    );
    await q.query(
      `CREATE INDEX task_execution_tags_flow_task_label_idx ON task_execution_tags (flow_id, task_name, ((tag_type || ':' || tag) COLLATE "C")) WHERE status = 'active' AND NOT execution_deleted`,
    );

    await q.query(`
      CREATE TABLE webhook_data (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        flow_execution_id uuid NOT NULL REFERENCES flow_executions (id),
        task_name varchar(200) NOT NULL,
        data jsonb NOT NULL,
        received_by varchar(255) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        task_execution_id uuid REFERENCES task_executions (id),
        applied_at timestamptz,
        CONSTRAINT webhook_data_task_uq UNIQUE (flow_execution_id, task_name)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_data`);
    await q.query(`DROP INDEX task_execution_tags_flow_task_label_idx`);
    await q.query(`DROP INDEX task_execution_tags_flow_label_idx`);
    await q.query(`ALTER TABLE task_execution_tags DROP COLUMN execution_deleted`);
    await q.query(`ALTER TABLE task_execution_tags DROP COLUMN flow_id`);
  }
}
