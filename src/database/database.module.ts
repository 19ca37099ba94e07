import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { buildDataSourceOptions } from './data-source-options';
import { usePreparedStatements } from './driver-pool';
import { runMigrationsExclusively } from './migrate';

@Module({})
export class DatabaseModule {
  static forRoot(config: AppConfig & { databaseUrl: string }): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            ...buildDataSourceOptions(config.databaseUrl, {
              poolSize: config.dbPoolSize,
              statementTimeoutMs: config.dbStatementTimeoutMs,
              acquireTimeoutMs: config.dbPoolAcquireTimeoutMs,
            }),
            // Fail fast at boot instead of retrying for half a minute; a later outage answers 503.
            retryAttempts: 0,
            logging: false,
          }),
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options as DataSourceOptions).initialize();
            usePreparedStatements(dataSource, config.dbPreparedStatements);
            if (config.migrate && config.databaseDirectUrl) {
              // The migration lock is a session lock: it needs PostgreSQL itself, not a transaction pooler.
              const direct = await new DataSource({
                ...(options as DataSourceOptions),
                url: config.databaseDirectUrl,
                poolSize: 2,
              } as DataSourceOptions).initialize();
              await runMigrationsExclusively(direct).finally(() => direct.destroy());
            } else if (config.migrate) {
              await runMigrationsExclusively(dataSource);
            }
            return dataSource;
          },
        }),
      ],
    };
  }
}
