import 'reflect-metadata';
import { createConnection } from 'node:net';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { DataSource } from 'typeorm';
import { isRole, Role, ROLES } from './common/auth/permissions';
import { isUuid } from './common/validation/parse-id.pipe';
import { AppConfig, ensureLocalJwtSecret, loadConfig } from './config/app-config';
import { buildDataSourceOptions } from './database/data-source-options';
import { runMigrationsExclusively } from './database/migrate';
import { startEmbeddedPostgres } from './database/embedded-postgres';
import { ApiKeyEntity } from './service-accounts/api-key.entity';
import { ServiceAccountEntity } from './service-accounts/service-account.entity';
import { ServiceAccountsRepository } from './service-accounts/service-accounts.repository';
import { ServiceAccountsService } from './service-accounts/service-accounts.service';

const USAGE = `Usage:
  npm run cli -- create-api-key --org <uuid> [--role <role>] [--name <name>]
      a service account (role default: integration) and its API key; prints the token once
  npm run cli -- mint-jwt --org <uuid> --role <role> [--sub <subject>] [--ttl <seconds>]
      a bearer token signed with JWT_SECRET (ttl default: 3600)
Roles: ${ROLES.join(', ')}. DATABASE_URL unset: the embedded database under DATA_DIR (./data).`;

class UsageError extends Error {}

type Option = 'org' | 'role' | 'name' | 'sub' | 'ttl';
type Args = Partial<Record<Option, string>>;

const COMMANDS: Record<string, { options: Option[]; run: (config: AppConfig, args: Args) => Promise<void> }> = {
  'create-api-key': { options: ['org', 'role', 'name'], run: createApiKey },
  'mint-jwt': { options: ['org', 'role', 'sub', 'ttl'], run: mintJwt },
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = Object.hasOwn(COMMANDS, name ?? '') ? COMMANDS[name] : undefined;
  if (!command) throw new UsageError(name ? `Unknown command "${name}"` : 'No command given');
  const options = Object.fromEntries(command.options.map((option) => [option, { type: 'string' as const }]));
  let args: Args;
  try {
    args = parseArgs({ args: rest, options, strict: true }).values as Args;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  await command.run(loadConfig(), args);
}

async function createApiKey(config: AppConfig, args: Args): Promise<void> {
  const organizationId = orgOf(args);
  const role = roleOf(args.role ?? 'integration');
  const { account, key } = await withDatabase(config, (dataSource) =>
    new ServiceAccountsService(
      dataSource.getRepository(ServiceAccountEntity),
      dataSource.getRepository(ApiKeyEntity),
      new ServiceAccountsRepository(dataSource),
    ).createWithKey({ subject: 'cli', organizationId }, { name: args.name ?? `cli-${role}`, role }),
  );
  // Only the token goes to stdout, so that `$(npm run -s cli -- create-api-key ...)` captures it.
  console.error(`Service account ${account.id} (${account.name}, role ${account.role}) in organization ${organizationId}; its API key, shown only now:`);
  console.log(key.token);
}

async function mintJwt(config: AppConfig, args: Args): Promise<void> {
  const organizationId = orgOf(args);
  if (args.role === undefined) throw new UsageError('--role is required');
  const role = roleOf(args.role);
  const ttl = Number(args.ttl ?? 3600);
  if (!Number.isInteger(ttl) || ttl < 1) throw new UsageError('--ttl must be a positive number of seconds');

  const { jwt } = ensureLocalJwtSecret(config);
  const now = Math.floor(Date.now() / 1000);
  let token = new SignJWT({ org_id: organizationId, role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(args.sub ?? `cli-${role}`)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl);
  // The server checks these when they are configured, so the token must carry them.
  if (jwt.issuer) token = token.setIssuer(jwt.issuer);
  if (jwt.audience) token = token.setAudience(jwt.audience);
  console.log(await token.sign(new TextEncoder().encode(jwt.secret)));
}

/** DATABASE_URL, or the embedded default; migrated like the server would, so a first use before any start works. */
async function withDatabase<T>(config: AppConfig, work: (dataSource: DataSource) => Promise<T>): Promise<T> {
  let url = config.databaseUrl;
  let stop = async (): Promise<void> => {};
  if (!url) {
    // Starting the embedded server would stop one a running service is using.
    if (await isListening(config.embeddedPgPort)) {
      throw new Error(
        `The embedded PostgreSQL (port ${config.embeddedPgPort}) is in use, probably by a running server: stop it first, or mint a bearer token instead (npm run cli -- mint-jwt ...)`,
      );
    }
    const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
    url = embedded.url;
    stop = () => embedded.stop();
  }
  const dataSource = new DataSource({
    ...buildDataSourceOptions(url, { poolSize: 2 }),
    entities: [ServiceAccountEntity, ApiKeyEntity],
  });
  try {
    await dataSource.initialize();
    if (config.migrate) await runMigrationsExclusively(dataSource);
    return await work(dataSource);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await stop();
  }
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port, timeout: 1000 });
    const done = (listening: boolean) => {
      socket.destroy();
      resolve(listening);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

function orgOf(args: Args): string {
  if (!isUuid(args.org)) throw new UsageError('--org must be an organization UUID');
  return args.org.toLowerCase();
}

function roleOf(value: string): Role {
  if (!isRole(value)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  return value;
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError) console.error(`${error.message}\n\n${USAGE}`);
    else console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
