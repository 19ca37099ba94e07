import 'reflect-metadata';
import { DynamicModule, Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { format } from 'sql-formatter';
import { DataSource, getMetadataArgsStorage } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options';
import { startEmbeddedPostgres } from './embedded-postgres';
import { DummyValue, GENERATE_SQL, SqlSample } from './generate-sql';
import { withScratchDatabase } from './scratch-database';

export const QUERIES_DIR = join(__dirname, 'queries');
const SRC = join(__dirname, '..');

interface Statement {
  text: string;
  params: unknown[];
}

/**
 * The SQL of every `@GenerateSql` sample, by file name (`<repository file>.sql`). Each sample runs
 * against `databaseUrl` (a migrated scratch database: its rows are deleted before each sample), and
 * every statement sent on its connections is recorded, TypeORM's and the driver pool's alike.
 */
export async function generateQueryFiles(databaseUrl: string): Promise<Map<string, string>> {
  let recording: Statement[] | null = null;
  class RecordingClient extends Client {}
  const query = Client.prototype.query as (...args: unknown[]) => unknown;
  RecordingClient.prototype.query = function (this: Client, ...args: unknown[]) {
    recording?.push(statementOf(args));
    return query.apply(this, args);
  } as Client['query'];

  const repositories = await loadRepositories();
  const options = buildDataSourceOptions(databaseUrl, { poolSize: 2 });
  @Module({})
  class SqlQueriesModule {}
  const module: DynamicModule = {
    module: SqlQueriesModule,
    imports: [
      TypeOrmModule.forRoot({ ...options, extra: { ...options.extra, Client: RecordingClient }, retryAttempts: 0 }),
      TypeOrmModule.forFeature(await loadEntities()),
    ],
    providers: repositories.flatMap((r) => r.classes),
  };
  const app = await NestFactory.createApplicationContext(module, { logger: false });
  try {
    const dataSource = app.get(DataSource);
    // One statement, so that foreign keys are checked once all rows are gone (TRUNCATE is slow to commit, 0.4 s a time).
    const [{ empty }]: { empty: string }[] = await dataSource.query(
      `SELECT format('WITH %s SELECT 1', string_agg(format('%I AS (DELETE FROM %I)', 'd_' || tablename, tablename), ', ' ORDER BY tablename)) AS empty
         FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('migrations', 'flow_events_retention')`,
    );
    const files = new Map<string, string>();
    for (const { file, classes } of repositories) {
      const entries: string[] = [];
      for (const Repository of classes) {
        const instance = app.get(Repository) as Record<string, (...args: unknown[]) => Promise<unknown>>;
        for (const method of Object.getOwnPropertyNames(Repository.prototype)) {
          const samples: SqlSample[] | undefined = Reflect.getMetadata(GENERATE_SQL, Repository.prototype[method]);
          for (const sample of samples ?? []) {
            const label = `${Repository.name}.${method}${sample.name ? ` (${sample.name})` : ''}`;
            await dataSource.query(empty);
            const sent: Statement[] = (recording = []);
            try {
              await instance[method](...sample.params.map((p) => (p === DummyValue.MANAGER ? dataSource.manager : p)));
            } catch (err) {
              // Sample ids name no rows: constraint violations (class 23) are expected, and so is the method's own handling
              // of an empty database; any other database error is a broken query.
              const { code, driverError } = err as { code?: unknown; driverError?: { code?: unknown } };
              const state = String(code ?? driverError?.code ?? '');
              if (/^[0-9A-Z]{5}$/.test(state) && !state.startsWith('23')) throw new Error(`${label}: ${(err as Error).message}`, { cause: err });
            } finally {
              recording = null;
            }
            if (sent.length === 0) throw new Error(`${label} sent no SQL`);
            entries.push([`-- ${label}`, ...sent.map(render)].join('\n'));
          }
        }
      }
      if (entries.length === 0) continue;
      const name = relative(SRC, file).replace(/\\/g, '/');
      const header = `-- Written by \`npm run sql:queries\` from the @GenerateSql samples in src/${name}: do not edit.`;
      files.set(
        `${name
          .split('/')
          .pop()!
          .replace(/\.(ts|js)$/, '')}.sql`,
        `${header}\n\n${entries.join('\n\n')}\n`,
      );
    }
    return files;
  } finally {
    await app.close();
  }
}

/** The checked-in files, by name. */
export function readQueryFiles(): Map<string, string> {
  return new Map(
    readdirSync(QUERIES_DIR)
      .filter((name) => name.endsWith('.sql'))
      .sort()
      .map((name) => [name, readFileSync(join(QUERIES_DIR, name), 'utf8')]),
  );
}

function statementOf([config, values]: unknown[]): Statement {
  if (typeof config === 'string') return { text: config, params: (values as unknown[] | undefined) ?? [] };
  const { text, values: own } = config as { text: string; values?: unknown[] };
  return { text, params: (values as unknown[] | undefined) ?? own ?? [] };
}

function render({ text, params }: Statement): string {
  const sql = `${format(text, { language: 'postgresql', keywordCase: 'preserve', tabWidth: 2 })};`;
  if (params.length === 0) return sql;
  const json = JSON.stringify(params, (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  return `-- params: ${json}\n${sql}`;
}

/**
 * Repository classes with samples, by file. Found by file name, as TypeORM finds entities: the
 * database layer imports no feature.
 */
async function loadRepositories(): Promise<{ file: string; classes: Type[] }[]> {
  const found: { file: string; classes: Type[] }[] = [];
  for (const file of sourceFiles(/\.repository\.(ts|js)$/)) {
    const classes = Object.values((await import(file)) as Record<string, unknown>).filter(
      (value): value is Type =>
        typeof value === 'function' &&
        Object.getOwnPropertyNames(value.prototype ?? {}).some((key) => key !== 'constructor' && Reflect.hasMetadata(GENERATE_SQL, value.prototype[key])),
    );
    if (classes.length > 0) found.push({ file, classes });
  }
  return found;
}

async function loadEntities(): Promise<Type[]> {
  for (const file of sourceFiles(/\.entity\.(ts|js)$/)) await import(file);
  return [...new Set(getMetadataArgsStorage().tables.map((t) => t.target))].filter((t): t is Type => typeof t === 'function');
}

function sourceFiles(pattern: RegExp): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((path) => pattern.test(path) && !path.endsWith('.d.ts'))
    .map((path) => join(SRC, path))
    .sort();
}

/** `npm run sql:queries [-- --database-url postgres://...]`: a scratch database on that server, or on an embedded one. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'database-url': { type: 'string' } } });
  let files: Map<string, string>;
  if (values['database-url']) {
    files = await withScratchDatabase(values['database-url'], generateQueryFiles);
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'flows-sql-queries-'));
    const server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await freePort() });
    try {
      files = await withScratchDatabase(server.url, generateQueryFiles);
    } finally {
      await server.stop();
      rmSync(server.clusterDir, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const name of readQueryFiles().keys()) if (!files.has(name)) rmSync(join(QUERIES_DIR, name));
  for (const [name, text] of files) writeFileSync(join(QUERIES_DIR, name), text);
  console.log(`${files.size} files in ${relative(process.cwd(), QUERIES_DIR)}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
