import { MigrationInterface, QueryRunner } from 'typeorm';

// The executions list's tag filter starts from the tag within the caller's organization when the tag is
// rare, and probes (org, tag, execution) index-only when walking a flow's executions for a common one.
export class TagFilterIndex1764600000000 implements MigrationInterface {
  name = 'TagFilterIndex1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX task_execution_tags_org_tag_idx ON task_execution_tags (organization_id, tag_type, tag, flow_execution_id) WHERE status = 'active'`,
    );
    await q.query(`DROP INDEX task_execution_tags_lookup_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX task_execution_tags_lookup_idx ON task_execution_tags (tag_type, tag, flow_execution_id) WHERE status = 'active'`);
    await q.query(`DROP INDEX task_execution_tags_org_tag_idx`);
  }
}
