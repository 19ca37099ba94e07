import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';

/**
 * One builder for the app and for `ormconfig.ts` (the migration CLI). Never `synchronize`; migrations
 * run through `runMigrationsExclusively` (one replica at a time), never at initialize.
 */
export function buildDataSourceOptions(
  url: string,
  overrides: { poolSize?: number; statementTimeoutMs?: number; acquireTimeoutMs?: number } = {},
): DataSourceOptions {
  const statementTimeout = overrides.statementTimeoutMs ? ` -c statement_timeout=${overrides.statementTimeoutMs}` : '';
  return {
    type: 'postgres',
    url,
    entities: [join(__dirname, '..', '**', '*.entity.{ts,js}')],
    migrations: [join(__dirname, 'migrations', '*.{ts,js}')],
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    poolSize: overrides.poolSize ?? 20,
    // Timestamps without an offset in filters mean UTC, whatever the server's default. pg-pool's
    // connectionTimeoutMillis bounds both a new connection and the wait for a pooled one.
    extra: { connectionTimeoutMillis: overrides.acquireTimeoutMs ?? 5000, options: `-c TimeZone=UTC${statementTimeout}` },
  };
}
