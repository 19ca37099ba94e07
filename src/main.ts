// First: with OTEL_EXPORTER_OTLP_ENDPOINT set, tracing must start before anything loads http or pg.
import { tracing } from './telemetry/start';
import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { drainHttpServer } from './common/http/drain';
import { createLogger, logUncaughtErrors, NestPinoLogger } from './logging/logger';
import { AppConfig, ConfigError, ensureLocalJwtSecret, loadConfig } from './config/app-config';
import { startEmbeddedPostgres } from './database/embedded-postgres';
import { DEMO_ORGANIZATION_ID, ensureDemoOrganization } from './service-accounts/demo-organization';

async function bootstrap(config: AppConfig, logger: Logger): Promise<void> {
  let databaseUrl: string;
  let stopEmbedded = async (): Promise<void> => {};

  if (config.databaseUrl) {
    databaseUrl = config.databaseUrl;
  } else {
    config = ensureLocalJwtSecret(config);
    const embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      log: (message: string) => logger.info({ context: 'EmbeddedPostgres' }, message),
      serverLog:
        config.logLevel === 'debug' || config.logLevel === 'trace' ? (message: string) => logger.debug({ context: 'EmbeddedPostgres' }, message) : undefined,
    });
    logger.info({ context: 'EmbeddedPostgres' }, `embedded PostgreSQL 15 on 127.0.0.1:${config.embeddedPgPort}, data for ${config.dataDir}`);
    databaseUrl = embedded.url;
    stopEmbedded = () => embedded.stop();
  }

  // Nest's own lines, from the first, go through the JSON logger; a failed start reaches the catch below.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot({ ...config, databaseUrl }), {
    bodyParser: false,
    logger: new NestPinoLogger(logger),
    abortOnError: false,
  }).catch(async (error: unknown) => {
    await stopEmbedded();
    throw error;
  });
  configureApp(app, config);
  // A slow client gets this long to send its request; answers (long-polls, SSE) have their own bounds.
  const server = app.getHttpServer() as Server;
  server.requestTimeout = config.http.requestTimeoutMs;
  server.headersTimeout = config.http.headersTimeoutMs;

  // Stop accepting, let requests in flight finish (bounded), then close the pool and the embedded server.
  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const drained = await drainHttpServer(app.getHttpServer(), config.shutdownTimeoutMs);
    if (!drained) logger.error(`requests still in flight after SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}; cut`);
    await app.close();
    await stopEmbedded();
    await flushTracing(logger);
    logger.info('stopped');
    process.exit(drained ? 0 : 1);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  // The demo credential is printed before the port opens, so whoever waits for readiness finds it.
  await app.init();
  if (!config.databaseUrl && !config.production) await ensureDemoOrganization(app, config.port);
  if (!config.databaseUrl && config.production) {
    logger.info(`no demo key is printed in production; make one: npm run cli -- create-api-key --org ${DEMO_ORGANIZATION_ID} --role org_admin`);
  }
  await app.listen(config.port);
  logger.info({ port: config.port }, 'listening');
}

/** The spans of the last requests are exported before the process ends, within a bound: the collector may be down. */
async function flushTracing(logger: Logger): Promise<void> {
  if (!tracing) return;
  const bound = new Promise<'timeout'>((resolve) => setTimeout(resolve, TRACING_FLUSH_MS, 'timeout').unref());
  const outcome = await Promise.race([tracing.shutdown().catch((err: unknown) => ({ err })), bound]);
  if (outcome === 'timeout') logger.warn(`spans not exported within ${TRACING_FLUSH_MS} ms at shutdown; dropped`);
  else if (outcome) logger.warn(outcome, 'spans not exported at shutdown');
}
const TRACING_FLUSH_MS = 5_000;

let config: AppConfig;
try {
  config = loadConfig();
} catch (error) {
  createLogger('info').fatal(error instanceof ConfigError ? error.message : { err: error });
  process.exit(1);
}
const logger = createLogger(config.logLevel);
logUncaughtErrors(logger);
bootstrap(config, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'start failed');
  process.exit(1);
});
