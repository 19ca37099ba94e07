import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { TEST_DATABASE_KEY, TestDatabase } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>)[TEST_DATABASE_KEY] as TestDatabase | undefined;
  if (!state) return;
  delete (globalThis as Record<string, unknown>)[TEST_DATABASE_KEY];

  if (state.kind === 'server') {
    const client = new Client({ connectionString: state.adminUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(state.database)} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  } else {
    await state.handle.stop();
    // As root the cluster lives outside tempDir (see startEmbeddedPostgres), so both go.
    rmSync(state.handle.clusterDir, { recursive: true, force: true });
    rmSync(state.tempDir, { recursive: true, force: true });
  }
}
