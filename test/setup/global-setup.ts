import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../bench/processes';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../src/database/embedded-postgres';

/** What global-teardown must undo; Jest runs both in the same process, so globalThis carries it. */
export type TestDatabase = { kind: 'server'; adminUrl: string; database: string } | { kind: 'embedded'; handle: EmbeddedPostgresHandle; tempDir: string };

export const TEST_DATABASE_KEY = '__flowsTestDatabase';

export default async function globalSetup(): Promise<void> {
  process.env.JWT_SECRET ||= 'e2e-test-secret-0123456789abcdefghijklmn';
  process.env.LOG_LEVEL ||= 'silent';
  // The machine running the tests is shared: a pool wait or a statement must not fail a test for
  // being slow. The timeouts themselves are tested with small values (resource-limits.e2e-spec.ts).
  process.env.DB_POOL_ACQUIRE_TIMEOUT_MS ||= '60000';
  process.env.DB_STATEMENT_TIMEOUT_MS ||= '120000';

  const adminUrl = process.env.DATABASE_URL;
  let state: TestDatabase;
  if (adminUrl) {
    // A database of its own per run, so runs never see each other's rows.
    const database = `flows_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    } finally {
      await client.end();
    }
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    process.env.DATABASE_URL = url.toString();
    // Behind a pooler, the direct URL (LISTEN, the migration lock) names the same fresh database.
    if (process.env.DATABASE_DIRECT_URL) {
      const direct = new URL(process.env.DATABASE_DIRECT_URL);
      direct.pathname = `/${database}`;
      process.env.DATABASE_DIRECT_URL = direct.toString();
    }
    state = { kind: 'server', adminUrl, database };
  } else {
    const tempDir = mkdtempSync(join(tmpdir(), 'flows-e2e-'));
    const handle = await startEmbeddedPostgres({ dataDir: join(tempDir, 'pg'), port: await freePort() });
    process.env.DATABASE_URL = handle.url;
    state = { kind: 'embedded', handle, tempDir };
  }
  (globalThis as Record<string, unknown>)[TEST_DATABASE_KEY] = state;
}

/** A port nothing listens on right now (the OS picks it). */
export { freePort } from '../../bench/processes';
