-- The transition table's decision (transitions.ts `decide`) for one cause's rule, passed from
-- TypeScript as JSON (RULES[cause]): the table stays in TypeScript, this only reads it.
-- test/e2e/status-change.e2e-spec.ts holds its answers equal to `decide` for every cause and status.
-- Since 1765700000002-StatusChangeInOneStatement.
CREATE OR REPLACE FUNCTION flow_execution_decision(p_rule jsonb, p_from text, p_slot_free boolean, p_asked text, p_active text[],
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
END $$;
