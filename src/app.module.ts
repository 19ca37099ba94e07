import { JsonWorkersModule } from './common/json-worker/json-workers.module';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AuthGuard } from './common/auth/auth.guard';
import { AuthModule } from './common/auth/auth.module';
import { AdmissionGuard } from './common/admission/admission.guard';
import { AdmissionModule } from './common/admission/admission.module';
import { MetricsModule } from './common/metrics/metrics.module';
import { HeldRequestsModule } from './common/held/held-requests.module';
import { AllExceptionsFilter } from './common/http/all-exceptions.filter';
import { JsonBodyGuard } from './common/http/json-body.guard';
import { RateLimitGuard } from './common/rate-limit/rate-limit.guard';
import { IdempotencyModule } from './common/idempotency/idempotency.module';
import { RequestValidationPipe } from './common/validation/request-validation.pipe';
import { createLogger, LOGGER } from './logging/logger';
import { APP_CONFIG, AppConfig } from './config/app-config';
import { BulkActionsModule } from './bulk-actions/bulk-actions.module';
import { DatabaseModule } from './database/database.module';
import { FeedModule } from './feed/feed.module';
import { FlowExecutionsModule } from './flow-executions/flow-executions.module';
import { FlowsModule } from './flows/flows.module';
import { HealthModule } from './health/health.module';
import { OrganizationsModule } from './organizations/organizations.module';
import { LivenessModule } from './liveness/liveness.module';
import { RetentionModule } from './retention/retention.module';
import { ServiceAccountsModule } from './service-accounts/service-accounts.module';
import { TaskExecutionsModule } from './task-executions/task-executions.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Global()
@Module({})
class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers = [
      { provide: APP_CONFIG, useValue: config },
      { provide: LOGGER, useValue: createLogger(config.logLevel) },
    ];
    return { module: ConfigModule, providers, exports: [APP_CONFIG, LOGGER] };
  }
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig & { databaseUrl: string }): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(config),
        AuthModule,
        MetricsModule,
        JsonWorkersModule,
        HeldRequestsModule,
        AdmissionModule,
        IdempotencyModule,
        HealthModule,
        OrganizationsModule,
        ServiceAccountsModule,
        FlowsModule,
        // Before FlowExecutionsModule: /flow-executions/events must match before /flow-executions/:id.
        FeedModule,
        FlowExecutionsModule,
        TaskExecutionsModule,
        RetentionModule,
        LivenessModule,
        WebhooksModule,
        BulkActionsModule,
      ],
      providers: [
        { provide: APP_GUARD, useClass: AuthGuard },
        // After AuthGuard (guards run in this order): budgets are the principal's.
        { provide: APP_GUARD, useClass: RateLimitGuard },
        // A 415 is decided once the caller is known and within its budget, as an interceptor would.
        { provide: APP_GUARD, useClass: JsonBodyGuard },
        // Last: a request waits for a slot only once nothing cheaper can refuse it (docs/api.md#fair-admission).
        { provide: APP_GUARD, useClass: AdmissionGuard },
        { provide: APP_PIPE, useClass: RequestValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }
}
