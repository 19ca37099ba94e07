import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options';
import { runMigrationsExclusively } from './migrate';

/**
 * Runs `work` on a database of its own, created on the server of `serverUrl`, migrated, and dropped
 * afterwards: for the SQL checks and the query generator, which may write and must start empty.
 */
export async function withScratchDatabase<T>(serverUrl: string, work: (url: string) => Promise<T>): Promise<T> {
  const database = `flows_scratch_${Date.now()}_${randomBytes(3).toString('hex')}`;
  await onServer(serverUrl, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`));
  try {
    const url = new URL(serverUrl);
    url.pathname = `/${database}`;
    const dataSource = await new DataSource(buildDataSourceOptions(url.toString(), { poolSize: 1 })).initialize();
    try {
      await runMigrationsExclusively(dataSource);
    } finally {
      await dataSource.destroy();
    }
    return await work(url.toString());
  } finally {
    await onServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(database)} WITH (FORCE)`));
  }
}

async function onServer(url: string, statement: (client: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await statement(client);
  } finally {
    await client.end();
  }
}
