import { PERMISSION_EXTENSION } from '../../src/common/auth/auth.decorators';
import { Permission, PERMISSIONS, Role, ROLES } from '../../src/common/auth/permissions';
import { createExecution, createFlow, definitionOf, LINEAR_TASKS, TaskSpec } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { Generator, OpenApiDocument, Operation, operationsOf, Schema } from '../utils/fuzz';
import { CONTRACT_PERMISSIONS } from '../utils/permission-contract';
import { loadSwaggerPluginMetadata } from '../utils/swagger-plugin';
import { newOrg } from '../utils/tokens';

type Org = Awaited<ReturnType<typeof newOrg>>;
type Extended = Operation['op'] & { [PERMISSION_EXTENSION]?: string; security?: unknown[] };

// No queueing (a fresh run is running), webhooks to 127.0.0.1 accepted, nothing delivered.
// No bulk action worker: an action stays queued, so that cancelling it succeeds.
const ENV = { DEFAULT_ORG_CONCURRENCY_LIMIT: '100000', WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_WORKER: 'false', BULK_ACTION_WORKER: 'false' };
// A webhook_receiver task too, so that webhook data has somewhere to go.
const TASKS: TaskSpec[] = [...LINEAR_TASKS, { name: 'approve', task_executor_name: 'webhook_receiver', parameters: { data: '{{review.output}}' } }];

/**
 * The resources of one organization that a request names, each made on first use, so that every
 * request acts on its own (a delete or a settings change never spoils the next request).
 */
class World {
  private readonly made = new Map<string, Promise<string>>();

  constructor(
    private readonly t: TestApp,
    readonly org: Org,
  ) {}

  flow = () => this.once('flow', () => createFlow(this.t, this.org.auth, TASKS));
  execution = () => this.once('execution', async () => (await createExecution(this.t, this.org.auth, await this.flow())).id);
  task = () =>
    this.once('task', async () =>
      this.post('/api/task-executions', 'worker', {
        flow_execution_id: await this.execution(),
        task_name: 'approve',
        task_execution_idx: 0,
        processing_status: 'running',
      }),
    );
  /** A failed run (what a redrive needs), apart from the running one. */
  failedExecution = () =>
    this.once('failedExecution', async () => {
      const { id } = await createExecution(this.t, this.org.auth, await this.flow());
      const res = await this.t.http().patch(`/api/flow-executions/${id}/status`).query({ status: 'failed' }).set(this.org.auth('worker'));
      if (res.status !== 200) throw new Error(`fixture failed run: ${res.status} ${JSON.stringify(res.body)}`);
      return id;
    });
  bulkAction = () =>
    this.once('bulkAction', async () => {
      await this.execution();
      return this.post('/api/bulk-actions', 'org_admin', { action: 'cancel', selection: { flow_id: await this.flow() } }, 202);
    });
  serviceAccount = () => this.once('serviceAccount', () => this.post('/api/service-accounts', 'org_admin', { name: 'walk' }));
  apiKey = () => this.once('apiKey', async () => this.post(`/api/service-accounts/${await this.serviceAccount()}/api-keys`, 'org_admin', { name: 'walk' }));
  webhook = () => this.once('webhook', () => this.post('/api/webhooks', 'org_admin', { url: 'http://127.0.0.1:9/hook' }));
  /** A delivery of the webhook: the created event of a run started after it. */
  delivery = () =>
    this.once('delivery', async () => {
      const webhookId = await this.webhook();
      await createExecution(this.t, this.org.auth, await this.flow());
      const [row] = await this.t.dataSource.query(`SELECT id FROM webhook_deliveries WHERE webhook_id = $1 LIMIT 1`, [webhookId]);
      return row.id as string;
    });

  private once(kind: string, make: () => Promise<string>): Promise<string> {
    if (!this.made.has(kind)) this.made.set(kind, make());
    return this.made.get(kind)!;
  }

  private async post(path: string, role: Role, body: object, status = 201): Promise<string> {
    const res = await this.t.http().post(path).set(this.org.auth(role)).send(body);
    if (res.status !== status) throw new Error(`fixture ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id;
  }
}

/**
 * Values a schema alone cannot make valid, by parameter or field name: ids of the world's
 * resources, and a few that must name what exists. A parameter or id field of a new name fails
 * the walk until it is added here.
 */
const NAMED: Record<string, (w: World) => Promise<unknown>> = {
  flow_id: (w) => w.flow(),
  flow_execution_id: (w) => w.execution(),
  task_execution_id: (w) => w.task(),
  service_account_id: (w) => w.serviceAccount(),
  api_key_id: (w) => w.apiKey(),
  webhook_id: (w) => w.webhook(),
  delivery_id: (w) => w.delivery(),
  bulk_action_id: (w) => w.bulkAction(),
  version: async (w) => (await w.flow(), 1),
  run_number: async (w) => (await w.execution(), 1),
  // PUT /task-executions names the task execution it replaces by `id`.
  id: (w) => w.task(),
  organization_id: async (w) => w.org.id,
  definition: async () => definitionOf(TASKS),
  input: async () => ({ file_key: 'a.pdf' }),
  // The webhook_receiver task, where webhook data must go; any task does for the other operations.
  task_name: async () => 'approve',
  // PATCH .../status: a worker's report on a running run.
  status: async () => 'completed',
  url: async () => 'http://127.0.0.1:9/hook',
};

/** Operations whose valid request needs a resource in a particular state, by path and name. */
const NAMED_AT: Record<string, Record<string, (w: World) => Promise<unknown>>> = {
  '/api/flow-executions/{flow_execution_id}/redrive': { flow_execution_id: (w) => w.failedExecution() },
};

/** The smallest valid value of a schema: required fields only, the first enum value, the minimum. */
async function minimal(generator: Generator, schemaIn: Schema | undefined, name: string, w: World): Promise<unknown> {
  if (NAMED[name]) return NAMED[name](w);
  const schema = generator.resolve(schemaIn);
  const options = schema.anyOf ?? schema.oneOf;
  if (options) return minimal(generator, options.find((o) => generator.resolve(o).type !== 'null') ?? options[0], name, w);
  if (schema.enum) return schema.enum.find((v) => v !== null);
  if (schema.example !== undefined) return schema.example;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'string':
      if (schema.format === 'uuid') throw new Error(`no fixture makes an id for '${name}': add it to NAMED`);
      if (schema.format === 'date-time') return new Date().toISOString();
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 0, 0);
    case 'boolean':
      return false;
    case 'array':
      return Promise.all(Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => minimal(generator, schema.items, name, w)));
    default: {
      const entries = await Promise.all((schema.required ?? []).map(async (key) => [key, await minimal(generator, schema.properties?.[key], key, w)]));
      return Object.fromEntries(entries);
    }
  }
}

/** A valid request for an operation, naming the world's resources. */
async function requestFor(generator: Generator, { path, op }: Operation, w: World) {
  let url = path;
  const query: Record<string, unknown> = {};
  for (const p of op.parameters ?? []) {
    const at = NAMED_AT[path]?.[p.name];
    const value = async () => (at ? at(w) : minimal(generator, p.schema, p.name, w));
    if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(String(await value())));
    else if (p.in === 'query' && p.required) query[p.name] = await value();
  }
  const bodySchema = op.requestBody?.content['application/json']?.schema;
  const body = bodySchema ? await minimal(generator, bodySchema, 'body', w) : undefined;
  return { url, query, body };
}

/**
 * Every operation of the served document, for every role: a valid request about the caller's own
 * organization's resources answers 403 `forbidden` exactly when the contract's permission table
 * denies the role the operation's `x-required-permission`, and succeeds otherwise. The routes, the
 * table in src/ and the contract cannot drift apart, and an operation that names no permission (and
 * is not public) fails.
 */
describe('permission walk over the served OpenAPI document', () => {
  let t: TestApp;
  let doc: OpenApiDocument;
  let generator: Generator;

  beforeAll(async () => {
    await loadSwaggerPluginMetadata();
    t = await createTestApp(ENV);
    doc = (await t.http().get('/openapi.json').expect(200)).body;
    generator = new Generator(doc, { own: {}, foreign: {}, hints: {}, kindOf: () => undefined });
  });
  afterAll(() => t?.close());

  const send = (method: string, request: { url: string; query: Record<string, unknown>; body?: unknown }, headers: Record<string, string>) => {
    const http = t.http();
    const req = http[method as 'get'](request.url)
      .query(request.query as Record<string, string>)
      .set(headers);
    return request.body === undefined ? req : req.send(request.body as object);
  };
  const isPublic = (op: Extended) => Array.isArray(op.security) && op.security.length === 0;

  it('names a known permission on every operation that is not public', () => {
    const operations = operationsOf(doc);
    expect(operations.length).toBeGreaterThanOrEqual(45);
    const unnamed = operations
      .filter(({ op }) => !isPublic(op as Extended) && !((op as Extended)[PERMISSION_EXTENSION]! in PERMISSIONS))
      .map(({ method, path, op }) => `${method.toUpperCase()} ${path}: ${(op as Extended)[PERMISSION_EXTENSION] ?? 'none'}`);
    expect(unnamed).toEqual([]);
    // And every row of the table guards some operation.
    const used = new Set(operations.map(({ op }) => (op as Extended)[PERMISSION_EXTENSION]));
    expect(Object.keys(PERMISSIONS).filter((p) => !used.has(p))).toEqual([]);
  });

  it('answers public operations without credentials, and no other', async () => {
    const problems: string[] = [];
    for (const operation of operationsOf(doc)) {
      const res = await send(operation.method, await requestFor(generator, operation, new World(t, await newOrg())), {});
      const expected = isPublic(operation.op as Extended) ? res.status < 400 : res.status === 401;
      if (!expected) problems.push(`${operation.method.toUpperCase()} ${operation.path} without credentials: ${res.status}`);
    }
    expect(problems).toEqual([]);
  });

  it('refuses exactly the roles the table denies, and serves the others', async () => {
    const problems: string[] = [];
    let refused = 0;
    let served = 0;
    for (const operation of operationsOf(doc).filter(({ op }) => !isPublic(op as Extended))) {
      const permission = (operation.op as Extended)[PERMISSION_EXTENSION] as Permission;
      const label = `${operation.method.toUpperCase()} ${operation.path} (${permission})`;
      if (!(permission in CONTRACT_PERMISSIONS)) {
        problems.push(`${label}: no known permission`);
        continue;
      }
      await Promise.all(
        ROLES.map(async (role) => {
          // A fresh organization per request: its resources are the caller's own, and no request spoils another's.
          const world = new World(t, await newOrg());
          const res = await send(operation.method, await requestFor(generator, operation, world), world.org.auth(role));
          if (!CONTRACT_PERMISSIONS[permission][role]) {
            refused++;
            const named = res.body?.error?.code === 'forbidden' && String(res.body.error.message).includes(`'${permission}'`);
            if (res.status !== 403 || !named)
              problems.push(`${label} as ${role}: ${res.status} ${JSON.stringify(res.body)}, expected 403 naming the permission`);
          } else {
            served++;
            if (res.status >= 400) problems.push(`${label} as ${role}: ${res.status} ${JSON.stringify(res.body)}, expected success`);
          }
        }),
      );
    }
    expect(problems).toEqual([]);
    // Both sides of the table are exercised.
    expect(refused).toBeGreaterThan(50);
    expect(served).toBeGreaterThan(150);
  }, 240_000);
});
