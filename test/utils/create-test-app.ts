import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { MetricsService, SharedWrite } from '../../src/common/metrics/metrics.service';
import { configureApp } from '../../src/app.setup';
import { AppConfig, loadConfig } from '../../src/config/app-config';

export interface TestApp {
  app: NestExpressApplication;
  http: () => ReturnType<typeof request>;
  dataSource: DataSource;
  config: AppConfig;
  close: () => Promise<void>;
}

/** The production app, wired the same way as `main.ts`, on the database the global setup made. */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig({ ...process.env, ...env });
  const databaseUrl = config.databaseUrl;
  if (!databaseUrl) throw new Error('DATABASE_URL is set by test/setup/global-setup.ts');
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot({ ...config, databaseUrl }), {
    bodyParser: false,
    logger: false,
  });
  configureApp(app, config);
  await app.init();
  const server = app.getHttpServer();
  return {
    app,
    http: () => request(server),
    dataSource: app.get(DataSource),
    config,
    close: () => app.close(),
  };
}

/** The app's `db_writes_per_statement` histogram for one kind of write: statements sent, writes they carried. */
export async function writesPerStatement(t: TestApp, write: SharedWrite): Promise<{ count: number; sum: number }> {
  const { values } = await t.app.get(MetricsService).registry.getSingleMetric('db_writes_per_statement')!.get();
  // A histogram's values name their series (`_count`, `_sum`, `_bucket`) in metricName.
  const sample = (name: string) => values.find((v) => (v as { metricName?: string }).metricName === name && v.labels.write === write)?.value ?? 0;
  return { count: sample('db_writes_per_statement_count'), sum: sample('db_writes_per_statement_sum') };
}
