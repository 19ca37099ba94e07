import { MigrationInterface, QueryRunner } from 'typeorm';

// Frozen copies of src/database/sql/flow_executions_timeout_at.sql and task_executions_timeout_at.sql.
const FLOW_EXECUTIONS_TIMEOUT_AT = `CREATE FUNCTION flow_executions_timeout_at() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  t jsonb;
  wait text;
  why text;
  due timestamptz;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
    RETURN NEW;
  END IF;
  -- execution_seconds counts from the run's first running, or from a re-execution's.
  IF NEW.status = 'running' AND (TG_OP = 'INSERT' OR OLD.status NOT IN ('running', 'awaiting_input', 'cancel_requested')) THEN
    NEW.running_since := clock_timestamp();
  END IF;
  NEW.timeout_at := NULL;
  NEW.timeout_reason := NULL;
  IF NEW.status NOT IN ('running', 'awaiting_input', 'cancel_requested') THEN
    RETURN NEW;
  END IF;
  SELECT f.settings -> 'timeouts' INTO t FROM flows f WHERE f.id = NEW.flow_id;
  IF t IS NULL OR jsonb_typeof(t) <> 'object' THEN
    RETURN NEW;
  END IF;
  IF t ->> 'execution_seconds' IS NOT NULL AND NEW.running_since IS NOT NULL THEN
    NEW.timeout_at := NEW.running_since + make_interval(secs => (t ->> 'execution_seconds')::double precision);
    NEW.timeout_reason := 'execution_timeout';
  END IF;
  IF NEW.status = 'awaiting_input' THEN
    wait := t ->> 'awaiting_input_seconds';
    why := 'awaiting_input_timeout';
  ELSIF NEW.status = 'cancel_requested' THEN
    wait := t ->> 'cancel_seconds';
    why := 'cancel_timeout';
  END IF;
  IF wait IS NOT NULL THEN
    due := clock_timestamp() + make_interval(secs => wait::double precision);
    IF NEW.timeout_at IS NULL OR due < NEW.timeout_at THEN
      NEW.timeout_at := due;
      NEW.timeout_reason := why;
    END IF;
  END IF;
  RETURN NEW;
END $$`;
const FLOW_EXECUTIONS_TIMEOUT_AT_TRIGGER = `CREATE TRIGGER flow_executions_timeout_at BEFORE INSERT OR UPDATE OF status ON flow_executions
  FOR EACH ROW EXECUTE FUNCTION flow_executions_timeout_at()`;
const TASK_EXECUTIONS_TIMEOUT_AT = `CREATE FUNCTION task_executions_timeout_at() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  t jsonb;
BEGIN
  IF NEW.processing_status IS DISTINCT FROM 'running' THEN
    NEW.timeout_at := NULL;
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' OR OLD.processing_status IS DISTINCT FROM 'running' THEN
    SELECT f.settings -> 'timeouts' INTO t
      FROM flow_executions fe JOIN flows f ON f.id = fe.flow_id
     WHERE fe.id = NEW.flow_execution_id;
    NEW.heartbeat_seconds := COALESCE(t #>> ARRAY['tasks', NEW.task_name, 'heartbeat_seconds'], t ->> 'task_heartbeat_seconds')::integer;
    NEW.running_deadline_at := clock_timestamp()
      + make_interval(secs => COALESCE(t #>> ARRAY['tasks', NEW.task_name, 'seconds'], t ->> 'task_seconds')::double precision);
  END IF;
  NEW.heartbeat_at := clock_timestamp();
  NEW.timeout_at := LEAST(NEW.heartbeat_at + make_interval(secs => NEW.heartbeat_seconds), NEW.running_deadline_at);
  RETURN NEW;
END $$`;
const TASK_EXECUTIONS_TIMEOUT_AT_TRIGGER = `CREATE TRIGGER task_executions_timeout_at BEFORE INSERT OR UPDATE ON task_executions
  FOR EACH ROW EXECUTE FUNCTION task_executions_timeout_at()`;

export class Liveness1765400000000 implements MigrationInterface {
  name = 'Liveness1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE flow_executions
        ADD COLUMN running_since timestamptz,
        ADD COLUMN timeout_at timestamptz,
        ADD COLUMN timeout_reason varchar(32)`);
    await q.query(`
      ALTER TABLE task_executions
        ADD COLUMN heartbeat_at timestamptz,
        ADD COLUMN heartbeat_details jsonb,
        ADD COLUMN heartbeat_seconds integer,
        ADD COLUMN running_deadline_at timestamptz,
        ADD COLUMN timeout_at timestamptz`);
    // Runs already running count from their last change (no flow had timeouts before: nothing is due yet).
    await q.query(`UPDATE flow_executions SET running_since = updated_at WHERE status IN ('running', 'awaiting_input', 'cancel_requested')`);
    await q.query(FLOW_EXECUTIONS_TIMEOUT_AT);
    await q.query(FLOW_EXECUTIONS_TIMEOUT_AT_TRIGGER);
    await q.query(TASK_EXECUTIONS_TIMEOUT_AT);
    await q.query(TASK_EXECUTIONS_TIMEOUT_AT_TRIGGER);
    // The liveness sweep's walk: only rows with a due time are in them.
    await q.query(`CREATE INDEX flow_executions_timeout_idx ON flow_executions (timeout_at) WHERE timeout_at IS NOT NULL`);
    await q.query(`CREATE INDEX task_executions_timeout_idx ON task_executions (timeout_at) WHERE timeout_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX task_executions_timeout_idx`);
    await q.query(`DROP INDEX flow_executions_timeout_idx`);
    await q.query(`DROP TRIGGER task_executions_timeout_at ON task_executions`);
    await q.query(`DROP FUNCTION task_executions_timeout_at()`);
    await q.query(`DROP TRIGGER flow_executions_timeout_at ON flow_executions`);
    await q.query(`DROP FUNCTION flow_executions_timeout_at()`);
    await q.query(`ALTER TABLE task_executions DROP COLUMN heartbeat_at, DROP COLUMN heartbeat_details, DROP COLUMN heartbeat_seconds,
                   DROP COLUMN running_deadline_at, DROP COLUMN timeout_at`);
    await q.query(`ALTER TABLE flow_executions DROP COLUMN running_since, DROP COLUMN timeout_at, DROP COLUMN timeout_reason`);
  }
}
