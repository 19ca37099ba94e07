import { MigrationInterface, QueryRunner } from 'typeorm';

export class BulkActions1765600000002 implements MigrationInterface {
  name = 'BulkActions1765600000002';

  async up(q: QueryRunner): Promise<void> {
    // docs/api.md#bulk-actions: the action, acted on in batches by a worker on any replica.
    await q.query(`
      CREATE TABLE bulk_actions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL,
        flow_id uuid NOT NULL,
        action varchar(16) NOT NULL,
        status varchar(16) NOT NULL,
        selection jsonb NOT NULL,
        matched integer NOT NULL,
        processed integer NOT NULL DEFAULT 0,
        succeeded integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        created_by varchar(255) NOT NULL,
        created_by_role varchar(32) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at timestamptz
      )`);
    // The list, newest first, by cursor.
    await q.query(`CREATE INDEX bulk_actions_org_created_idx ON bulk_actions (organization_id, created_at DESC, id DESC)`);
    // The workers' claim and the per-organization cap: unfinished actions only.
    await q.query(`CREATE INDEX bulk_actions_unfinished_idx ON bulk_actions (created_at) WHERE status IN ('queued', 'running')`);
    // The frozen matched set, written in the creating transaction; outcomes written with the action on the run.
    await q.query(`
      CREATE TABLE bulk_action_items (
        bulk_action_id uuid NOT NULL REFERENCES bulk_actions (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        flow_execution_id uuid NOT NULL,
        outcome varchar(16) NOT NULL DEFAULT 'pending',
        error jsonb,
        processed_at timestamptz,
        PRIMARY KEY (bulk_action_id, seq)
      )`);
    await q.query(`CREATE INDEX bulk_action_items_pending_idx ON bulk_action_items (bulk_action_id, seq) WHERE outcome = 'pending'`);
    await q.query(`CREATE INDEX bulk_action_items_outcome_idx ON bulk_action_items (bulk_action_id, outcome, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE bulk_action_items`);
    await q.query(`DROP TABLE bulk_actions`);
  }
}
