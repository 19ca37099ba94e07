import { MigrationInterface, QueryRunner } from 'typeorm';

const ACTIVE = `('running', 'awaiting_input', 'cancel_requested')`;

export class CreateInOneStatement1765100000002 implements MigrationInterface {
  name = 'CreateInOneStatement1765100000002';

  async up(q: QueryRunner): Promise<void> {
    // Slots in use, kept by triggers on every write of flow_executions, under the organization's row lock that every status change takes first.
    await q.query(`ALTER TABLE organizations ADD COLUMN active_executions integer NOT NULL DEFAULT 0`);
    await q.query(`
      CREATE FUNCTION count_active_executions() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE organizations
           SET active_executions = active_executions
                 + CASE WHEN TG_OP <> 'DELETE' AND NEW.status IN ${ACTIVE} THEN 1 ELSE 0 END
                 - CASE WHEN TG_OP <> 'INSERT' AND OLD.status IN ${ACTIVE} THEN 1 ELSE 0 END
         WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.organization_id ELSE NEW.organization_id END;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER flow_executions_active_insert AFTER INSERT ON flow_executions
        FOR EACH ROW WHEN (NEW.status IN ${ACTIVE}) EXECUTE FUNCTION count_active_executions()`);
    await q.query(`
      CREATE TRIGGER flow_executions_active_update AFTER UPDATE OF status ON flow_executions
        FOR EACH ROW WHEN ((OLD.status IN ${ACTIVE}) <> (NEW.status IN ${ACTIVE})) EXECUTE FUNCTION count_active_executions()`);
    // Deletes come only from maintenance in bulk: one update per organization, not one per row.
    await q.query(`
      CREATE FUNCTION uncount_deleted_executions() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE organizations o SET active_executions = o.active_executions - gone.n
          FROM (SELECT organization_id, count(*)::int AS n FROM removed WHERE status IN ${ACTIVE} GROUP BY organization_id) gone
         WHERE o.id = gone.organization_id;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER flow_executions_active_delete AFTER DELETE ON flow_executions
        REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION uncount_deleted_executions()`);
    // After the triggers: writers wait for this migration, so the count below misses nothing.
    await q.query(`
      UPDATE organizations o SET active_executions = a.n
        FROM (SELECT organization_id, count(*)::int AS n FROM flow_executions WHERE status IN ${ACTIVE} GROUP BY organization_id) a
       WHERE o.id = a.organization_id`);

    // The execution as the retrieve endpoint answers it with include_run_number (toFlowExecutionResponse), for events written in SQL.
    await q.query(`
      CREATE FUNCTION flow_execution_json(fe flow_executions) RETURNS jsonb LANGUAGE sql STABLE AS $$
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

    /*
     * A create in one statement, so the organization's and the flow's row locks are held for
     * microseconds rather than across round trips: lock the organization (its limit and slots in
     * use), take the flow's next run number and a strictly later created_at, insert, then append
     * the created event through append_flow_events as the last statement, as EventsRepository.append does.
     */
    await q.query(`
      CREATE FUNCTION start_flow_execution(p_org uuid, p_flow uuid, p_version integer, p_input jsonb, p_input_task_name text,
                                           p_triggered_task_executor_name text, p_modified_by text, p_default_limit integer)
      RETURNS SETOF flow_executions LANGUAGE plpgsql AS $$
      DECLARE
        org organizations%ROWTYPE;
        next_run_number integer;
        next_created_at timestamptz;
        created flow_executions%ROWTYPE;
      BEGIN
        SELECT * INTO org FROM organizations WHERE id = p_org FOR UPDATE;
        IF NOT FOUND THEN
          INSERT INTO organizations (id) VALUES (p_org) ON CONFLICT (id) DO NOTHING;
          SELECT * INTO org FROM organizations WHERE id = p_org FOR UPDATE;
        END IF;
        UPDATE flows
           SET executions_count = executions_count + 1,
               last_execution_at = GREATEST(clock_timestamp(), last_execution_at + interval '1 microsecond')
         WHERE id = p_flow AND organization_id = p_org AND NOT deleted
         RETURNING executions_count, last_execution_at INTO next_run_number, next_created_at;
        IF NOT FOUND THEN
          RETURN;
        END IF;
        INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, input_task_name,
                                     triggered_task_executor_name, modified_by, created_at, updated_at)
        VALUES (p_org, p_flow, p_version,
                CASE WHEN org.active_executions < COALESCE(org.max_concurrent_executions, p_default_limit) THEN 'running' ELSE 'queued' END,
                p_input, next_run_number, p_input_task_name, p_triggered_task_executor_name, p_modified_by, next_created_at, next_created_at)
        RETURNING * INTO created;
        PERFORM append_flow_events(p_org, jsonb_build_array(jsonb_build_object(
          'flow_id', p_flow, 'flow_execution_id', created.id, 'type', 'flow_execution.created',
          'payload', jsonb_build_object('flow_execution', flow_execution_json(created), 'previous_status', NULL))), '{}');
        RETURN NEXT created;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION start_flow_execution(uuid, uuid, integer, jsonb, text, text, text, integer)`);
    await q.query(`DROP FUNCTION flow_execution_json(flow_executions)`);
    await q.query(`DROP TRIGGER flow_executions_active_delete ON flow_executions`);
    await q.query(`DROP TRIGGER flow_executions_active_update ON flow_executions`);
    await q.query(`DROP TRIGGER flow_executions_active_insert ON flow_executions`);
    await q.query(`DROP FUNCTION uncount_deleted_executions()`);
    await q.query(`DROP FUNCTION count_active_executions()`);
    await q.query(`ALTER TABLE organizations DROP COLUMN active_executions`);
  }
}
