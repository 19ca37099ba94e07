import { MigrationInterface, QueryRunner } from 'typeorm';

export class Redrive1765600000000 implements MigrationInterface {
  name = 'Redrive1765600000000';

  async up(q: QueryRunner): Promise<void> {
    // How many times the run was redriven (docs/api.md#redrive); an extension field of the run body.
    await q.query(`ALTER TABLE flow_executions ADD COLUMN redrive_count integer NOT NULL DEFAULT 0`);
    // Events written in SQL carry it too (frozen copy of src/database/sql/flow_execution_json.sql).
    await q.query(`
      CREATE OR REPLACE FUNCTION flow_execution_json(fe flow_executions) RETURNS jsonb LANGUAGE sql STABLE AS $$
        SELECT jsonb_build_object(
          'id', fe.id,
          'created_at', to_char(fe.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
          'updated_at', to_char(fe.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
          'modified_by', fe.modified_by,
          'flow_id', fe.flow_id,
          'flow_version', fe.flow_version,
          'status', fe.status,
          'input', fe.input,
          'organization_id', fe.organization_id,
          'pricing_config_id', fe.pricing_config_id,
          'total_credits', NULL,
          'triggered_task_executor_name', fe.triggered_task_executor_name,
          'run_number', fe.run_number,
          'redrive_count', fe.redrive_count)
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION flow_execution_json(fe flow_executions) RETURNS jsonb LANGUAGE sql STABLE AS $$
        SELECT jsonb_build_object(
          'id', fe.id,
          'created_at', to_char(fe.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
          'updated_at', to_char(fe.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
          'modified_by', fe.modified_by,
          'flow_id', fe.flow_id,
          'flow_version', fe.flow_version,
          'status', fe.status,
          'input', fe.input,
          'organization_id', fe.organization_id,
          'pricing_config_id', fe.pricing_config_id,
          'total_credits', NULL,
          'triggered_task_executor_name', fe.triggered_task_executor_name,
          'run_number', fe.run_number)
      $$`);
    await q.query(`ALTER TABLE flow_executions DROP COLUMN redrive_count`);
  }
}
