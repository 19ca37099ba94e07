import { MigrationInterface, QueryRunner } from 'typeorm';

export class FlowStatsIndex1765600000001 implements MigrationInterface {
  name = 'FlowStatsIndex1765600000001';

  async up(q: QueryRunner): Promise<void> {
    // Run statistics (docs/api.md#run-statistics) read one flow's runs index-only: every column a
    // group or a duration needs is in the index, in creation order for the created_at ranges.
    await q.query(`
      CREATE INDEX flow_executions_flow_stats_idx ON flow_executions (flow_id, created_at)
        INCLUDE (status, flow_version, run_number, updated_at, terminal_at) WHERE status <> 'deleted'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX flow_executions_flow_stats_idx`);
  }
}
