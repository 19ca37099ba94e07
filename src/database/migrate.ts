import type { DataSource } from 'typeorm';

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
    await runner.query(`SELECT pg_advisory_lock($1, $2)`, [...MIGRATION_LOCK]);
    try {
      await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await runner.query(`SELECT pg_advisory_unlock($1, $2)`, [...MIGRATION_LOCK]);
    }
  } finally {
    await runner.release();
  }
}
