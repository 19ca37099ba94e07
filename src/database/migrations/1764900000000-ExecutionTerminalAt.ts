import { MigrationInterface, QueryRunner } from 'typeorm';

export class ExecutionTerminalAt1764900000000 implements MigrationInterface {
  name = 'ExecutionTerminalAt1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE flow_executions ADD COLUMN terminal_at timestamptz`);
    // A trigger, so that every path into a terminal status sets it, today's and tomorrow's.
    await q.query(`
      CREATE FUNCTION flow_executions_terminal_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
          NEW.terminal_at := CASE
            WHEN NEW.status IN ('completed', 'failed', 'cancelled') THEN clock_timestamp()
            WHEN NEW.status = 'deleted' AND TG_OP = 'UPDATE' THEN OLD.terminal_at
            ELSE NULL
          END;
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER flow_executions_terminal_at BEFORE INSERT OR UPDATE OF status ON flow_executions
        FOR EACH ROW EXECUTE FUNCTION flow_executions_terminal_at()`);
    // Runs already terminal count from their last change.
    await q.query(`UPDATE flow_executions SET terminal_at = updated_at WHERE status IN ('completed', 'failed', 'cancelled')`);
    await q.query(`
      CREATE INDEX flow_executions_flow_terminal_idx ON flow_executions (flow_id, terminal_at)
        WHERE status IN ('completed', 'failed', 'cancelled')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX flow_executions_flow_terminal_idx`);
    await q.query(`DROP TRIGGER flow_executions_terminal_at ON flow_executions`);
    await q.query(`DROP FUNCTION flow_executions_terminal_at()`);
    await q.query(`ALTER TABLE flow_executions DROP COLUMN terminal_at`);
  }
}
