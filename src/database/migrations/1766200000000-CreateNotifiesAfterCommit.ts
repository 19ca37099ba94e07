import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A create no longer NOTIFYs in its own transaction (src/database/sql/start_flow_execution.sql):
 * PostgreSQL serializes the commits of all transactions that NOTIFY on one lock held until their WAL
 * is flushed, so every create of every organization waited for the one before it. The caller sends
 * the change notification after the commit (FlowExecutionsRepository.start).
 */
export class CreateNotifiesAfterCommit1766200000000 implements MigrationInterface {
  name = 'CreateNotifiesAfterCommit1766200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION start_flow_execution(p_org uuid, p_flow uuid, p_version integer, p_input jsonb, p_input_task_name text,
                                                      p_triggered_task_executor_name text, p_modified_by text, p_default_limit integer,
                                                      p_traceparent text DEFAULT NULL, p_tracestate text DEFAULT NULL)
      RETURNS SETOF flow_executions LANGUAGE plpgsql AS $$
      DECLARE
        hooks uuid[];
        slot_free boolean;
        created flow_executions%ROWTYPE;
        event_id bigint;
      BEGIN
        SELECT array_agg(w.id) INTO hooks
          FROM webhooks w
         WHERE w.organization_id = p_org AND w.status = 'enabled'
           AND (w.flow_id IS NULL OR w.flow_id = p_flow)
           AND (w.event_types IS NULL OR 'flow_execution.created' = ANY (w.event_types));
        PERFORM pg_advisory_xact_lock(1668441441, hashtext(p_org::text));
        SELECT o.active_executions < COALESCE(o.max_concurrent_executions, p_default_limit) INTO slot_free
          FROM organizations o WHERE o.id = p_org FOR UPDATE;
        IF NOT FOUND THEN
          INSERT INTO organizations (id) VALUES (p_org) ON CONFLICT (id) DO NOTHING;
          SELECT o.active_executions < COALESCE(o.max_concurrent_executions, p_default_limit) INTO slot_free
            FROM organizations o WHERE o.id = p_org FOR UPDATE;
        END IF;
        WITH numbered AS (
          UPDATE flows
             SET executions_count = executions_count + 1,
                 last_execution_at = GREATEST(clock_timestamp(), last_execution_at + interval '1 microsecond')
           WHERE id = p_flow AND organization_id = p_org AND NOT deleted
           RETURNING executions_count, last_execution_at
        )
        INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, input_task_name,
                                     triggered_task_executor_name, modified_by, created_at, updated_at, traceparent, tracestate)
        SELECT p_org, p_flow, p_version, CASE WHEN slot_free THEN 'running' ELSE 'queued' END,
               p_input, n.executions_count, p_input_task_name, p_triggered_task_executor_name, p_modified_by, n.last_execution_at, n.last_execution_at,
               p_traceparent, p_tracestate
          FROM numbered n
        RETURNING * INTO created;
        IF NOT FOUND THEN
          RETURN;
        END IF;
        -- append_flow_events for this one event: 'flow' in ASCII, the organization's ordering lock, held until commit.
        PERFORM pg_advisory_xact_lock(1718382455, hashtext(p_org::text));
        INSERT INTO flow_events (organization_id, flow_id, flow_execution_id, type, occurred_at, payload)
        VALUES (p_org, p_flow, created.id, 'flow_execution.created', clock_timestamp(),
                jsonb_build_object('flow_execution', flow_execution_json(created), 'previous_status', NULL))
        RETURNING id INTO event_id;
        IF hooks IS NOT NULL THEN
          INSERT INTO webhook_deliveries (webhook_id, organization_id, event_id, event_type, next_attempt_at)
          SELECT hook, p_org, event_id, 'flow_execution.created', now() FROM unnest(hooks) AS hook;
          PERFORM pg_notify('webhook_deliveries', '');
        END IF;
        RETURN NEXT created;
      END $$;`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION start_flow_execution(p_org uuid, p_flow uuid, p_version integer, p_input jsonb, p_input_task_name text,
                                                      p_triggered_task_executor_name text, p_modified_by text, p_default_limit integer,
                                                      p_traceparent text DEFAULT NULL, p_tracestate text DEFAULT NULL)
      RETURNS SETOF flow_executions LANGUAGE plpgsql AS $$
      DECLARE
        hooks uuid[];
        slot_free boolean;
        created flow_executions%ROWTYPE;
        event_id bigint;
      BEGIN
        SELECT array_agg(w.id) INTO hooks
          FROM webhooks w
         WHERE w.organization_id = p_org AND w.status = 'enabled'
           AND (w.flow_id IS NULL OR w.flow_id = p_flow)
           AND (w.event_types IS NULL OR 'flow_execution.created' = ANY (w.event_types));
        PERFORM pg_advisory_xact_lock(1668441441, hashtext(p_org::text));
        SELECT o.active_executions < COALESCE(o.max_concurrent_executions, p_default_limit) INTO slot_free
          FROM organizations o WHERE o.id = p_org FOR UPDATE;
        IF NOT FOUND THEN
          INSERT INTO organizations (id) VALUES (p_org) ON CONFLICT (id) DO NOTHING;
          SELECT o.active_executions < COALESCE(o.max_concurrent_executions, p_default_limit) INTO slot_free
            FROM organizations o WHERE o.id = p_org FOR UPDATE;
        END IF;
        WITH numbered AS (
          UPDATE flows
             SET executions_count = executions_count + 1,
                 last_execution_at = GREATEST(clock_timestamp(), last_execution_at + interval '1 microsecond')
           WHERE id = p_flow AND organization_id = p_org AND NOT deleted
           RETURNING executions_count, last_execution_at
        )
        INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, input_task_name,
                                     triggered_task_executor_name, modified_by, created_at, updated_at, traceparent, tracestate)
        SELECT p_org, p_flow, p_version, CASE WHEN slot_free THEN 'running' ELSE 'queued' END,
               p_input, n.executions_count, p_input_task_name, p_triggered_task_executor_name, p_modified_by, n.last_execution_at, n.last_execution_at,
               p_traceparent, p_tracestate
          FROM numbered n
        RETURNING * INTO created;
        IF NOT FOUND THEN
          RETURN;
        END IF;
        -- append_flow_events for this one event: 'flow' in ASCII, the organization's ordering lock, held until commit.
        PERFORM pg_advisory_xact_lock(1718382455, hashtext(p_org::text));
        INSERT INTO flow_events (organization_id, flow_id, flow_execution_id, type, occurred_at, payload)
        VALUES (p_org, p_flow, created.id, 'flow_execution.created', clock_timestamp(),
                jsonb_build_object('flow_execution', flow_execution_json(created), 'previous_status', NULL))
        RETURNING id INTO event_id;
        IF hooks IS NOT NULL THEN
          INSERT INTO webhook_deliveries (webhook_id, organization_id, event_id, event_type, next_attempt_at)
          SELECT hook, p_org, event_id, 'flow_execution.created', now() FROM unnest(hooks) AS hook;
          PERFORM pg_notify('webhook_deliveries', '');
        END IF;
        PERFORM pg_notify('flow_execution_changes', p_org::text || ' ' || created.id);
        RETURN NEXT created;
      END $$;`);
  }
}
