import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { PUBLIC_EXTENSION } from '../auth/auth.decorators';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Tags in the order a reader meets them: executions first, as upstream. */
const TAGS: [string, string][] = [
  ['flow-executions', 'Runs of a flow: create, read, list, cancel, re-execute, status and the event feed'],
  ['task-executions', 'The tasks inside a run, as workers report them'],
  ['task-tags', "`key:value` tags on a run's tasks"],
  ['webhook-data', 'Data for tasks that wait for a webhook'],
  ['bulk-actions', 'Acting on many runs at once: a frozen selection worked through in the background'],
  ['webhooks', 'Signed deliveries of the event feed to HTTPS endpoints (org_admin, backoffice)'],
  ['flows', 'Versioned flow definitions'],
  ['service-accounts', 'Service accounts and their API keys (org_admin)'],
  ['organizations', "The organization's settings (org_admin)"],
  ['health', 'Liveness and readiness, without credentials'],
];

/**
 * The served OpenAPI document. Operation ids are made the way FastAPI makes them upstream
 * (`<function>_<path>_<method>`, the function being the controller method in snake case), so a
 * client generated from this document has the same methods as one generated from upstream's.
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Flow Execution Service')
    .setDescription('Runs of versioned flows, their task executions, and the credentials that call them.')
    .setVersion('1.0')
    .addServer('/', 'This service, at the address the document was fetched from')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'BearerAuth')
    .addApiKey({ type: 'apiKey', name: 'X-API-Key', in: 'header' }, 'APIKeyAuth')
    .addSecurityRequirements('BearerAuth')
    .addSecurityRequirements('APIKeyAuth');
  for (const [name, description] of TAGS) builder.addTag(name, description);

  const document = SwaggerModule.createDocument(app, builder.build(), { operationIdFactory: (_controller, method) => snakeCase(method) });
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      // OpenAPI's way to say an operation takes no credentials (an empty requirement would be dropped by the scanner).
      const extensions = operation as Partial<Record<typeof PUBLIC_EXTENSION, boolean>> | undefined;
      if (operation && extensions?.[PUBLIC_EXTENSION]) {
        delete extensions[PUBLIC_EXTENSION];
        operation.security = [];
      }
      // An id given in full with @ApiOperation (ApiUpstreamOperation) already ends with its path and method.
      if (operation?.operationId && !operation.operationId.endsWith(fastApiOperationId('', path, method))) {
        operation.operationId = fastApiOperationId(operation.operationId, path, method);
      }
    }
  }
  return document;
}

/** FastAPI's `generate_unique_id`: `get_flow` + `/api/flows/{flow_id}` + GET → `get_flow_api_flows__flow_id__get`. */
export function fastApiOperationId(functionName: string, path: string, method: string): string {
  return `${functionName}${path}`.replace(/\W/g, '_') + `_${method.toLowerCase()}`;
}

export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}
