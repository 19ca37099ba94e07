import type { Pool, QueryResult, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/** A hot-path statement: sent as a named prepared statement unless the data source says not to. */
export interface Statement {
  name: string;
  text: string;
}

const unnamed = new WeakSet<DataSource>();

/** The pg pool under TypeORM, for hot-path reads without a query runner. */
export function driverPool(dataSource: DataSource): Pool {
  return (dataSource.driver as PostgresDriver).master as Pool;
}

/**
 * `DB_PREPARED_STATEMENTS=false`: behind a transaction-mode pooler (PgBouncer before 1.21) a named
 * statement prepared on one server connection is unknown on the next, so statements go unnamed.
 */
export function usePreparedStatements(dataSource: DataSource, enabled: boolean): void {
  if (enabled) unnamed.delete(dataSource);
  else unnamed.add(dataSource);
}

/** One statement on the driver's pool: named (parsed once per connection) unless disabled. */
export function driverQuery<R extends QueryResultRow>(dataSource: DataSource, statement: Statement, params: unknown[]): Promise<QueryResult<R>> {
  const pool = driverPool(dataSource);
  return unnamed.has(dataSource) ? pool.query<R>(statement.text, params) : pool.query<R>(statement, params);
}
