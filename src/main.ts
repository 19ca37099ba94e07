import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { drainHttpServer } from './common/http/drain';
import { ConfigError, ensureLocalJwtSecret, loadConfig } from './config/app-config';
import { startEmbeddedPostgres } from './database/embedded-postgres';
import { ensureDemoOrganization } from './service-accounts/demo-organization';

async function bootstrap(): Promise<void> {
  let config = loadConfig();
  let databaseUrl: string;
  let stopEmbedded = async (): Promise<void> => {};

  if (config.databaseUrl) {
    databaseUrl = config.databaseUrl;
  } else {
    config = ensureLocalJwtSecret(config);
    const embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      log: (message: string) => console.log(message),
      serverLog: config.logLevel === 'debug' || config.logLevel === 'trace' ? (message: string) => console.log(message) : undefined,
    });
    console.log(`embedded PostgreSQL 15 on 127.0.0.1:${config.embeddedPgPort}, data for ${config.dataDir}`);
    databaseUrl = embedded.url;
    stopEmbedded = () => embedded.stop();
  }

  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot({ ...config, databaseUrl }), {
    bodyParser: false,
    bufferLogs: true,
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
  const shutdown = async () => {
    const drained = await drainHttpServer(app.getHttpServer(), config.shutdownTimeoutMs);
    if (!drained) console.error(`requests still in flight after SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}; cut`);
    await app.close();
    await stopEmbedded();
    process.exit(drained ? 0 : 1);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  // The demo credential is printed before the port opens, so whoever waits for readiness finds it.
  await app.init();
  if (!config.databaseUrl) await ensureDemoOrganization(app, config.port);
  await app.listen(config.port);
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
