import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { buildDataSourceOptions } from './data-source-options';

@Module({})
export class DatabaseModule {
  static forRoot(config: AppConfig & { databaseUrl: string }): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRoot({
          ...buildDataSourceOptions(config.databaseUrl, { poolSize: config.dbPoolSize, migrationsRun: config.migrate }),
          // Fail fast at boot instead of retrying for half a minute; a later outage answers 503.
          retryAttempts: 0,
          logging: false,
        }),
      ],
    };
  }
}
