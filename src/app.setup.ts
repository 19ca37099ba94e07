import { RequestMethod } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { LOGGER, NestPinoLogger } from './logging/logger';
import { requestLogger } from './common/http/request-logger';
import { answerClientErrorsInEnvelope } from './common/http/client-errors';
import { closeConnectionsWhileDraining } from './common/http/drain';
import { MetricsService } from './common/metrics/metrics.service';
import { createOpenApiDocument } from './common/http/openapi';
import { jsonBodyParser } from './common/json-worker/json-body';
import { JsonWorkers } from './common/json-worker/json-workers';
import { requestIdMiddleware } from './common/http/request-id';
import { installSlicedJson } from './common/http/raw-json';
import type { AppConfig } from './config/app-config';

/** HTTP wiring shared by `main.ts` and the e2e tests, so both serve exactly the same app. */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  const logger = app.get<Logger>(LOGGER);
  answerClientErrorsInEnvelope(app.getHttpServer());
  app.use(app.get(MetricsService).httpMiddleware());
  app.use(requestIdMiddleware);
  app.use(closeConnectionsWhileDraining);
  app.use(requestLogger(logger));
  // The depth limit applies before the body is parsed, so nothing recursive ever sees a deeper one; large bodies are parsed off the event loop.
  app.use(jsonBodyParser(config.bodyLimitBytes, app.get(JsonWorkers)));
  app.useLogger(new NestPinoLogger(logger));
  app.disable('x-powered-by');
  // Big pages and spliced JSON are serialized in slices that yield (docs/api.md#event-loop-budget).
  installSlicedJson(app.getHttpAdapter().getInstance());
  app.set('etag', false);
  // Repeated keys (`status=a&status=b`) are all the API takes; no nested `a[b]=` objects.
  app.set('query parser', 'simple');
  app.setGlobalPrefix('api', {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });

  const document = createOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', useGlobalPrefix: false });
}
