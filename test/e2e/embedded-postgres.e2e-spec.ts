import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { freePort } from '../setup/global-setup';

jest.setTimeout(60_000);

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  let tempDir: string;
  let dataDir: string;
  const handles: EmbeddedPostgresHandle[] = [];
  const start = async (): Promise<EmbeddedPostgresHandle> => {
    const handle = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    handles.push(handle);
    return handle;
  };

  beforeEach(() => {
    // Private like a checkout under /root: the server's OS user cannot enter it.
    tempDir = mkdtempSync(join(tmpdir(), 'embedded-pg-spec-'));
    chmodSync(tempDir, 0o700);
    dataDir = join(tempDir, 'pg');
  });

  afterEach(async () => {
    for (const handle of handles) await handle.stop();
    for (const handle of handles) rmSync(handle.clusterDir, { recursive: true, force: true });
    handles.length = 0;
    rmSync(tempDir, { recursive: true, force: true });
  });

  it('initialises a PostgreSQL 15 cluster, then reuses it with its data', async () => {
    const first = await start();
    expect(first.url).toMatch(/^postgres:\/\/.+\/flows$/);
    const [{ version }] = await query<{ version: string }>(first.url, 'SELECT version()');
    expect(version).toMatch(/^PostgreSQL 15\./);
    await query(first.url, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('written the first time')");
    await first.stop();
    await first.stop(); // harmless twice

    const second = await start();
    expect(second.clusterDir).toBe(first.clusterDir);
    expect(await query(second.url, 'SELECT note FROM kept')).toEqual([{ note: 'written the first time' }]);
  });

  it('comes up over a server left running by a killed process, and over a stale pid file', async () => {
    const forgotten = await start();
    handles.pop(); // as if the process that started it had been SIGKILLed
    const fresh = await start();
    expect(fresh.url).not.toBe(forgotten.url);
    expect(await query(fresh.url, 'SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    await expect(query(forgotten.url, 'SELECT 1')).rejects.toThrow(); // the leftover was stopped, not shadowed
    await forgotten.stop(); // its server is gone: must not hang

    await fresh.stop();
    // The pid of a live process that is not this cluster's server, as after a reboot recycled it.
    const unrelated = spawn('sleep', ['60']);
    try {
      writeFileSync(join(fresh.clusterDir, 'postmaster.pid'), `${unrelated.pid}\n${fresh.clusterDir}\n`);
      const afterCrash = await start();
      expect(await query(afterCrash.url, 'SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
      expect(unrelated.exitCode).toBeNull();
    } finally {
      unrelated.kill();
    }
  });
});
