import type { DataSource } from 'typeorm';
import { MigrationExecutor } from 'typeorm/migration/MigrationExecutor';

// pg_advisory_lock(namespace, key): 'migr' in ASCII; one key for the whole schema.
const MIGRATION_LOCK = [0x6d696772, 1] as const;

/**
 * Runs pending migrations while holding a session advisory lock, so replicas starting together
 * take turns: the first migrates, the others wait, then find nothing to do.
 */
export async function runMigrationsExclusively(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    // Waiting for the lock and building indexes outlast the API's statement timeout: not on this session.
    await runner.query(`SET statement_timeout = 0`);
    await runner.query(`SELECT pg_advisory_lock($1, $2)`, [...MIGRATION_LOCK]);
    try {
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'all';
      await executor.executePendingMigrations();
    } finally {
      await runner.query(`RESET statement_timeout`);
      await runner.query(`SELECT pg_advisory_unlock($1, $2)`, [...MIGRATION_LOCK]);
    }
  } finally {
    await runner.release();
  }
}
