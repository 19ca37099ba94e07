import { MigrationInterface, QueryRunner } from 'typeorm';

// GET /api/task-executions without flow_execution_id lists the whole organization, newest first.
export class TaskExecutionsOrgIndex1764370000000 implements MigrationInterface {
  name = 'TaskExecutionsOrgIndex1764370000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX task_executions_org_created_idx ON task_executions (organization_id, created_at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX task_executions_org_created_idx`);
  }
}
