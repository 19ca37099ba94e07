import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import spec from '../contract/superai-flows-openapi.subset.json';

// The reference OpenAPI document; its components are JSON Schema 2020-12.
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
ajv.addSchema({ $id: 'spec', components: spec.components });
const cache = new Map<string, ValidateFunction>();

type Operations = Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: object }> }> }>>;

/**
 * Asserts that a response body validates against the spec's schema for that operation and status;
 * errors documented only by example are checked against ErrorResponse.
 */
export function expectSpecResponse(method: string, path: string, status: number, body: unknown): void {
  const key = `${method} ${path} ${status}`;
  let validate = cache.get(key);
  if (!validate) {
    const operation = (spec.paths as unknown as Operations)[path]?.[method.toLowerCase()];
    if (!operation) throw new Error(`no operation ${method} ${path} in the spec`);
    const response = operation.responses[String(status)];
    if (!response) throw new Error(`the spec documents no ${status} for ${method} ${path}`);
    const schema = response.content?.['application/json']?.schema ?? (status >= 400 ? { $ref: '#/components/schemas/ErrorResponse' } : undefined);
    if (!schema) throw new Error(`the spec documents no body for ${status} of ${method} ${path}`);
    validate = ajv.compile(rebase(schema));
    cache.set(key, validate);
  }
  if (!validate(body)) {
    throw new Error(`${key} does not match the spec: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);
  }
}

/** Asserts that a body validates against one of the spec's component schemas (e.g. `ErrorResponse`). */
export function expectSpecSchema(name: string, body: unknown): void {
  const key = `#/components/schemas/${name}`;
  let validate = cache.get(key);
  if (!validate) {
    validate = ajv.compile({ $ref: `spec${key}` });
    cache.set(key, validate);
  }
  if (!validate(body)) throw new Error(`not a ${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);
}

function rebase(schema: object): object {
  return JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"spec#/components/'));
}
