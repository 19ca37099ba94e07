import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764360000000 implements MigrationInterface {
  name = 'InitialSchema1764360000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE organizations (
        id uuid PRIMARY KEY,
        max_concurrent_executions integer CHECK (max_concurrent_executions > 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE service_accounts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        name varchar(255) NOT NULL,
        description text,
        role varchar(32) NOT NULL DEFAULT 'integration',
        status varchar(16) NOT NULL DEFAULT 'active',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        modified_by varchar(255) NOT NULL,
        deleted_at timestamptz
      )`);
    await q.query(`CREATE INDEX service_accounts_org_idx ON service_accounts (organization_id, created_at, id) WHERE deleted_at IS NULL`);

    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        service_account_id uuid NOT NULL REFERENCES service_accounts (id),
        name varchar(255) NOT NULL,
        description text,
        token_prefix varchar(40) NOT NULL,
        token_hash char(64) NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        modified_by varchar(255) NOT NULL,
        deleted_at timestamptz
      )`);
    await q.query(`CREATE INDEX api_keys_service_account_idx ON api_keys (service_account_id, created_at, id) WHERE deleted_at IS NULL`);

    await q.query(`
      CREATE TABLE flows (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        display_name varchar(255) NOT NULL,
        description text,
        visibility varchar(32),
        settings jsonb,
        status varchar(16) NOT NULL DEFAULT 'draft',
        tags text[] NOT NULL DEFAULT '{}',
        latest_version integer NOT NULL DEFAULT 1,
        executions_count integer NOT NULL DEFAULT 0,
        last_execution_at timestamptz,
        deleted boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        modified_by varchar(255) NOT NULL
      )`);
    await q.query(`CREATE INDEX flows_org_created_idx ON flows (organization_id, created_at, id) WHERE NOT deleted`);
    await q.query(`CREATE INDEX flows_org_updated_idx ON flows (organization_id, updated_at, id) WHERE NOT deleted`);

    await q.query(`
      CREATE TABLE flow_versions (
        flow_id uuid NOT NULL REFERENCES flows (id),
        version integer NOT NULL CHECK (version >= 1),
        definition jsonb NOT NULL,
        name varchar(255),
        is_favourite boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        modified_by varchar(255) NOT NULL,
        PRIMARY KEY (flow_id, version)
      )`);

    // run_number is allocated from flows.executions_count under the flow's row lock, and
    // created_at is kept strictly increasing per flow, so both orders always agree.
    await q.query(`
      CREATE TABLE flow_executions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        flow_id uuid NOT NULL REFERENCES flows (id),
        flow_version integer NOT NULL,
        status varchar(32) NOT NULL,
        input jsonb NOT NULL,
        run_number integer NOT NULL,
        input_task_name varchar(255),
        triggered_task_executor_name varchar(255),
        pricing_config_id uuid,
        modified_by varchar(255) NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT flow_executions_run_number_uq UNIQUE (flow_id, run_number)
      )`);
    await q.query(`CREATE INDEX flow_executions_flow_created_idx ON flow_executions (flow_id, created_at, id) WHERE status <> 'deleted'`);
    await q.query(`CREATE INDEX flow_executions_flow_updated_idx ON flow_executions (flow_id, updated_at, id) WHERE status <> 'deleted'`);
    await q.query(`CREATE INDEX flow_executions_org_queued_idx ON flow_executions (organization_id, created_at, id) WHERE status = 'queued'`);
    await q.query(
      `CREATE INDEX flow_executions_org_active_idx ON flow_executions (organization_id) WHERE status IN ('running', 'awaiting_input', 'cancel_requested')`,
    );

    await q.query(`
      CREATE TABLE task_executions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        flow_execution_id uuid NOT NULL REFERENCES flow_executions (id),
        task_name varchar(200) NOT NULL,
        task_execution_idx integer NOT NULL CHECK (task_execution_idx >= 0),
        processing_status varchar(32) NOT NULL,
        edited_status varchar(32) NOT NULL DEFAULT 'not_edited',
        stale_status varchar(16) NOT NULL DEFAULT 'consistent',
        input jsonb,
        output jsonb,
        error jsonb,
        source_task_executions jsonb,
        started_at timestamptz,
        completed_at timestamptz,
        credits integer CHECK (credits >= 0),
        modified_by varchar(255) NOT NULL DEFAULT 'system',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT task_executions_task_uq UNIQUE (flow_execution_id, task_name, task_execution_idx) INCLUDE (credits)
      )`);

    await q.query(`
      CREATE TABLE task_execution_tags (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        flow_execution_id uuid NOT NULL REFERENCES flow_executions (id),
        task_name varchar(200) NOT NULL,
        tag_type varchar(100) NOT NULL,
        tag varchar(200) NOT NULL,
        tag_metadata jsonb,
        status varchar(16) NOT NULL DEFAULT 'active',
        modified_by varchar(255),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT task_execution_tags_uq UNIQUE (flow_execution_id, task_name, tag_type, tag)
      )`);
    await q.query(`CREATE INDEX task_execution_tags_lookup_idx ON task_execution_tags (tag_type, tag, flow_execution_id) WHERE status = 'active'`);

    await q.query(`
      CREATE TABLE flow_task_statuses (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        flow_execution_id uuid NOT NULL REFERENCES flow_executions (id),
        task_name varchar(255) NOT NULL,
        status varchar(50) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX flow_task_statuses_execution_idx ON flow_task_statuses (flow_execution_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'flow_task_statuses',
      'task_execution_tags',
      'task_executions',
      'flow_executions',
      'flow_versions',
      'flows',
      'api_keys',
      'service_accounts',
      'organizations',
    ]) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
