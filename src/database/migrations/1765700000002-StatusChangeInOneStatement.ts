import { MigrationInterface, QueryRunner } from 'typeorm';

export class StatusChangeInOneStatement1765700000002 implements MigrationInterface {
  name = 'StatusChangeInOneStatement1765700000002';

  async up(q: QueryRunner): Promise<void> {
    // The transition table's decision for a rule passed from TypeScript (RULES[cause] as JSON).
    await q.query(`
      CREATE FUNCTION flow_execution_decision(p_rule jsonb, p_from text, p_slot_free boolean, p_asked text, p_active text[],
                                                         OUT kind text, OUT to_status text, OUT refusal text)
      LANGUAGE plpgsql IMMUTABLE AS $$
      DECLARE
        chosen jsonb;
      BEGIN
        IF p_rule -> 'unchanged' ? p_from THEN
          kind := 'unchanged';
          RETURN;
        END IF;
        SELECT m.value INTO chosen
          FROM jsonb_array_elements(p_rule -> 'moves') WITH ORDINALITY AS m (value, n)
         WHERE (p_asked IS NULL OR m.value ->> 'to' = p_asked) AND m.value -> 'from' ? p_from
         ORDER BY m.n
         LIMIT 1;
        IF chosen IS NULL THEN
          IF p_rule ->> 'otherwise' = 'refuse' THEN
            kind := 'refused';
            refusal := 'transition';
            to_status := p_asked;
          ELSE
            kind := 'unchanged';
          END IF;
          RETURN;
        END IF;
        to_status := chosen ->> 'to';
        IF NOT (p_from = ANY (p_active)) AND to_status = ANY (p_active) AND NOT p_slot_free THEN
          IF p_rule ->> 'withoutSlot' IS DISTINCT FROM 'queue' THEN
            kind := 'refused';
            refusal := 'no_slot';
            RETURN;
          END IF;
          to_status := 'queued';
        END IF;
        IF to_status = p_from AND p_rule ->> 'sameStatus' IS DISTINCT FROM 'touch' THEN
          kind := 'unchanged';
          to_status := NULL;
          RETURN;
        END IF;
        kind := 'move';
      END $$`);
    // PATCH, cancel and delete in one statement: lock organization then run, decide, write, admit, append the events.
    await q.query(`
      CREATE FUNCTION change_flow_execution_status(p_org uuid, p_id uuid, p_rule jsonb, p_asked text, p_permitted_from text[], p_active text[],
                                                              p_modified_by text, p_reason text, p_default_limit integer)
      RETURNS TABLE (outcome text, previous_status text, refused_to text, fe flow_executions) LANGUAGE plpgsql AS $$
      DECLARE
        org organizations%ROWTYPE;
        old_row flow_executions%ROWTYPE;
        new_row flow_executions%ROWTYPE;
        admitted flow_executions%ROWTYPE;
        decision record;
        max_active integer;
        events jsonb := '[]';
        touched text[] := '{}';
      BEGIN
        SELECT * INTO org FROM organizations WHERE id = p_org FOR UPDATE;
        IF NOT FOUND THEN
          INSERT INTO organizations (id) VALUES (p_org) ON CONFLICT (id) DO NOTHING;
          SELECT * INTO org FROM organizations WHERE id = p_org FOR UPDATE;
        END IF;
        SELECT * INTO old_row FROM flow_executions WHERE id = p_id FOR NO KEY UPDATE;
        IF NOT FOUND THEN
          outcome := 'inaccessible';
          RETURN NEXT;
          RETURN;
        END IF;
        fe := old_row;
        previous_status := old_row.status;
        IF old_row.organization_id = p_org AND old_row.status = 'deleted' AND p_rule -> 'unchanged' ? 'deleted' THEN
          outcome := 'unchanged';
          RETURN NEXT;
          RETURN;
        END IF;
        IF old_row.organization_id <> p_org OR old_row.status = 'deleted' THEN
          outcome := 'inaccessible';
          RETURN NEXT;
          RETURN;
        END IF;
        IF p_permitted_from IS NOT NULL AND NOT (old_row.status = ANY (p_permitted_from)) THEN
          outcome := 'denied';
          RETURN NEXT;
          RETURN;
        END IF;
        max_active := COALESCE(org.max_concurrent_executions, p_default_limit);
        decision := flow_execution_decision(p_rule, old_row.status, org.active_executions < max_active, p_asked, p_active);
        IF decision.kind <> 'move' THEN
          outcome := CASE WHEN decision.kind = 'refused' THEN 'refused_' || decision.refusal ELSE 'unchanged' END;
          refused_to := decision.to_status;
          RETURN NEXT;
          RETURN;
        END IF;

        UPDATE flow_executions SET status = decision.to_status, modified_by = p_modified_by,
               updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond')
         WHERE id = p_id
        RETURNING * INTO new_row;
        IF new_row.status = old_row.status THEN
          touched := ARRAY[new_row.id::text];
        ELSE
          events := jsonb_build_array(jsonb_build_object(
            'flow_id', new_row.flow_id, 'flow_execution_id', new_row.id,
            'type', CASE WHEN new_row.status = 'deleted' THEN 'flow_execution.deleted' ELSE 'flow_execution.status_changed' END,
            'payload', jsonb_build_object('flow_execution', flow_execution_json(new_row), 'previous_status', old_row.status, 'reason', p_reason)));
        END IF;
        IF new_row.status = 'deleted' THEN
          UPDATE task_execution_tags SET execution_deleted = true WHERE flow_execution_id = new_row.id AND NOT execution_deleted;
        END IF;
        outcome := 'moved';
        fe := new_row;
        RETURN NEXT;

        -- A freed slot: the oldest waiting runs start while the organization has free slots.
        IF old_row.status = ANY (p_active) AND NOT (new_row.status = ANY (p_active)) THEN
          FOR admitted IN
            UPDATE flow_executions q
               SET status = 'running', updated_at = GREATEST(clock_timestamp(), q.updated_at + interval '1 microsecond')
             WHERE q.id IN (
               SELECT w.id FROM flow_executions w
                WHERE w.organization_id = p_org AND w.status IN ('queued')
                ORDER BY w.created_at, w.id
                LIMIT GREATEST(0, max_active - (SELECT o.active_executions FROM organizations o WHERE o.id = p_org)))
            RETURNING q.*
          LOOP
            events := events || jsonb_build_object(
              'flow_id', admitted.flow_id, 'flow_execution_id', admitted.id, 'type', 'flow_execution.status_changed',
              'payload', jsonb_build_object('flow_execution', flow_execution_json(admitted), 'previous_status', 'queued', 'reason', 'admit'));
            outcome := 'admitted';
            previous_status := 'queued';
            fe := admitted;
            RETURN NEXT;
          END LOOP;
        END IF;
        PERFORM append_flow_events(p_org, events, touched);
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION change_flow_execution_status(uuid, uuid, jsonb, text, text[], text[], text, text, integer)`);
    await q.query(`DROP FUNCTION flow_execution_decision(jsonb, text, boolean, text, text[])`);
  }
}
