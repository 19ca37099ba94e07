import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import spec from '../contract/superai-flows-openapi.subset.json';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { loadSwaggerPluginMetadata } from '../utils/swagger-plugin';

type Schema = { $ref?: string; type?: string; items?: Schema };
type Operation = {
  operationId?: string;
  tags?: string[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
  tags: { name: string }[];
  servers?: { url: string }[];
};

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch']);
const root = resolve(__dirname, '../..');

/** Operations of the reference document not built yet (none today); they are compared once served. */
const NOT_YET_SERVED = new Set<string>([]);

/** The warnings redocly.yaml keeps, each with its reason there: rule → where. */
const ALLOWED_WARNINGS = new Set([
  'operation-4xx-response #/paths/~1health~1live/get/responses',
  'operation-4xx-response #/paths/~1health~1ready/get/responses',
  'no-illogical-composition-keywords #/components/schemas/ServiceAccountResponse/properties/role/allOf',
  'no-illogical-composition-keywords #/components/schemas/ServiceAccountCreateResponse/properties/role/allOf',
]);

function operations(document: Document): [string, string, Operation][] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.has(method))
      .map(([method, operation]) => [path, method, operation] as [string, string, Operation]),
  );
}

/** What a client generator names: the component of a body, or `array of <component>`. */
function bodyName(schema: Schema | undefined): string | undefined {
  if (!schema) return undefined;
  if (schema.$ref) return schema.$ref.replace('#/components/schemas/', '');
  if (schema.type === 'array') return `array of ${bodyName(schema.items)}`;
  return schema.type;
}

function bodies(operation: Operation) {
  const json = (c?: Record<string, { schema: Schema }>) => bodyName(c?.['application/json']?.schema);
  const success = Object.entries(operation.responses).filter(([status]) => status.startsWith('2'));
  return {
    request: json(operation.requestBody?.content),
    responses: Object.fromEntries(success.map(([status, response]) => [status, json(response.content)])),
  };
}

describe('OpenAPI document: a drop-in for the upstream one', () => {
  let t: TestApp;
  let document: Document;
  beforeAll(async () => {
    await loadSwaggerPluginMetadata();
    t = await createTestApp();
    document = (await t.http().get('/openapi.json').expect(200)).body;
  });
  afterAll(() => t.close());

  const reference = operations(spec as unknown as Document);

  it.each(reference.map(([path, method, operation]) => [operation.operationId!, path, method, operation] as const))(
    '%s: same operationId and body component names as upstream',
    (operationId, path, method, upstream) => {
      const served = document.paths[path]?.[method];
      if (!served && NOT_YET_SERVED.has(operationId)) return;
      expect(served).toBeDefined();
      expect(served.operationId).toBe(operationId);
      expect(bodies(served)).toEqual(bodies(upstream));
    },
  );

  it('serves the reference operations but those not built yet', () => {
    const served = new Set(operations(document).map(([, , operation]) => operation.operationId));
    const missing = reference.map(([, , operation]) => operation.operationId!).filter((id) => !served.has(id) && !NOT_YET_SERVED.has(id));
    expect(missing).toEqual([]);
    expect(reference.filter(([, , operation]) => !NOT_YET_SERVED.has(operation.operationId!)).length).toBeGreaterThanOrEqual(34);
  });

  it('names every operation the way upstream does, uniquely', () => {
    const ids = operations(document).map(([path, method, operation]) => {
      const suffix = `${path.replace(/\W/g, '_')}_${method}`;
      expect(operation.operationId).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(operation.operationId!.endsWith(suffix)).toBe(true);
      expect(operation.operationId!.length).toBeGreaterThan(suffix.length);
      return operation.operationId;
    });
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents 401, 422 and 500 on every /api operation, every error with the envelope', () => {
    // The health probes answer 503 in the shape load balancers know (Terminus's), not the envelope.
    for (const [path, method, operation] of operations(document).filter(([path]) => path.startsWith('/api/'))) {
      const statuses = Object.keys(operation.responses);
      expect({ path, method, statuses }).toEqual({ path, method, statuses: expect.arrayContaining(['401', '422', '500']) });
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        const name = bodyName(operation.responses[status].content?.['application/json']?.schema);
        expect({ path, method, status, name }).toEqual({ path, method, status, name: status === '422' ? 'HTTPValidationError' : 'ErrorResponse' });
      }
    }
  });

  it('puts flow executions first, declares every tag it uses, and names a server', () => {
    const used = new Set(operations(document).flatMap(([, , operation]) => operation.tags ?? []));
    expect([...used].filter((tag) => !document.tags.some((t) => t.name === tag))).toEqual([]);
    expect(document.tags.map((tag) => tag.name).slice(0, 2)).toEqual(['flow-executions', 'task-executions']);
    expect(document.servers?.length).toBeGreaterThan(0);
    expect(Object.keys(document.paths).filter((path) => !path.startsWith('/api/') && !path.startsWith('/health/'))).toEqual([]);
  });

  it('passes redocly lint with the recommended rules: no errors, only the warnings redocly.yaml lists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openapi-lint-'));
    try {
      const file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(document));
      const cli = join(root, 'node_modules/@redocly/cli/bin/cli.js');
      const args = [cli, 'lint', '--config', join(root, 'redocly.yaml'), '--format', 'json', file];
      // The CLI exits 1 on errors; the JSON report says which, so read it either way.
      const result = await promisify(execFile)(process.execPath, args, {
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        maxBuffer: 16 * 1024 * 1024,
      }).catch((error: { stdout: string }) => error);
      const report = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as {
        problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
      };
      const found = report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
      expect(found.filter((p) => p.startsWith('error'))).toEqual([]);
      const warnings = report.problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer}`);
      expect(warnings.filter((w) => !ALLOWED_WARNINGS.has(w))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
