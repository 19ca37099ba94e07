import fc from 'fast-check';
import reference from '../contract/superai-flows-openapi.subset.json';
import { createExecution, createFlow, LINEAR_TASKS, definitionOf } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import {
  closeAgent,
  FuzzRequest,
  FuzzResponse,
  Generator,
  IdPools,
  OpenApiDocument,
  Operation,
  operationsOf,
  requestsFor,
  ResponseValidator,
  send,
} from '../utils/fuzz';
import { expectSpecResponse } from '../utils/spec';
import { loadSwaggerPluginMetadata } from '../utils/swagger-plugin';
import { newOrg } from '../utils/tokens';

// Fixed, so that a failure replays; the whole run stays within the time budget below.
const SEED = 20261130;
const RUNS = 3000;
const BUDGET_MS = 50_000;
const ULID_OR_CALLER = /^[A-Za-z0-9._-]{1,128}$/;

const KINDS: Record<string, string> = {
  flow_id: 'flow',
  flow_execution_id: 'execution',
  start_from_execution_id: 'execution',
  task_execution_id: 'task',
  service_account_id: 'serviceAccount',
  api_key_id: 'apiKey',
  bulk_action_id: 'bulkAction',
};

/**
 * Property-based fuzzing driven by the served /openapi.json: every operation gets valid requests and
 * requests broken in one place. Never a 5xx; every error the envelope with the request id; every 2xx
 * valid against the document (and the reference document, where it has the operation); another
 * organization's ids never answer 2xx.
 */
describe('fuzzing every operation of the served OpenAPI document', () => {
  let t: TestApp;
  let port: number;
  let doc: OpenApiDocument;
  let pools: IdPools;
  const tokens: Record<string, Record<string, string>> = {};

  beforeAll(async () => {
    // Tests only transpile; this gives the test app the document `nest build` would serve.
    await loadSwaggerPluginMetadata();
    t = await createTestApp();
    await new Promise<void>((resolve) => t.app.getHttpServer().listen(0, '127.0.0.1', () => resolve()));
    port = (t.app.getHttpServer().address() as { port: number }).port;
    doc = (await t.http().get('/openapi.json').expect(200)).body;

    const own = await fixtures(t);
    const foreign = await fixtures(t);
    pools = {
      own: own.ids,
      foreign: foreign.ids,
      hints: {
        definition: [definitionOf(LINEAR_TASKS)],
        input: [{ file_key: 'a.pdf' }],
        task_name: LINEAR_TASKS.map((task) => task.name),
        tags: [['priority:high'], ['customer:acme', 'priority:low']],
      },
      kindOf: (name) => KINDS[name],
    };
    for (const role of ['org_admin', 'backoffice', 'worker', 'app_user', 'publisher', 'integration']) {
      tokens[role] = own.org.auth(role as never);
    }
  }, 180_000);
  afterAll(async () => {
    closeAgent();
    await t?.close();
  });

  it('never answers a 5xx, always the envelope, 2xx bodies as documented, nothing of another organization', async () => {
    const operations = operationsOf(doc).filter((o) => o.path.startsWith('/api/'));
    expect(operations.length).toBeGreaterThanOrEqual(25);
    const validator = new ResponseValidator(doc);
    const generator = new Generator(doc, pools);
    const failures: string[] = [];
    const tally = { requests: 0, ok: 0, statuses: new Map<number, number>() };

    // A wrong method on one template may be served by another that also matches (DELETE /flow-executions/events).
    const templates = Object.entries(doc.paths).map(([path, item]) => ({
      pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      methods: Object.keys(item),
    }));
    const servedElsewhere = (req: FuzzRequest) => templates.some((t) => t.pattern.test(req.url.split('?')[0]) && t.methods.includes(req.method.toLowerCase()));

    for (const [index, operation] of operations.entries()) {
      const served = Object.keys(doc.paths[operation.path]);
      const property = fc.asyncProperty(requestsFor(operation, generator, pools, served), async (req) => {
        const res = await send(port, req, req.role ? tokens[req.role] : {});
        tally.requests++;
        tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
        const problem = req.method !== operation.method.toUpperCase() && servedElsewhere(req) ? judgeAny(req, res) : judge(operation, req, res, validator);
        if (problem) throw new Error(`${problem}\n  request: ${show(req)}\n  response: ${res.status} ${res.text.slice(0, 600)}`);
        if (res.status < 300) tally.ok++;
      });
      const details = await fc.check(property, {
        seed: SEED + index,
        numRuns: Math.ceil(RUNS / operations.length),
        interruptAfterTimeLimit: BUDGET_MS / operations.length,
        markInterruptAsFailure: false,
      });
      if (details.failed) {
        // The shrunk case's own message says what was sent and what came back.
        const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
        failures.push(
          `${operation.method.toUpperCase()} ${operation.path} (seed ${details.seed}, path ${details.counterexamplePath}, shrunk ${details.numShrinks} times): ${error}`,
        );
      }
    }

    const statuses = [...tally.statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}:${n}`)
      .join(' ');
    process.stdout.write(`fuzz: ${tally.requests} requests over ${operations.length} operations, ${tally.ok} answered 2xx/3xx; statuses ${statuses}\n`);
    expect(failures).toEqual([]);
    expect(tally.requests).toBeGreaterThan(operations.length * 10);
    // Valid requests must succeed often enough for the 2xx checks to mean something.
    expect(tally.ok).toBeGreaterThan(tally.requests / 20);
  }, 240_000);
});

/** What holds for any answer: no 5xx, and errors in the envelope. */
function judgeAny(req: FuzzRequest, res: FuzzResponse): string | null {
  const requestId = res.headers['x-request-id'];
  if (typeof requestId !== 'string' || !ULID_OR_CALLER.test(requestId)) return 'no X-Request-ID';
  if (res.status >= 500) return `a ${res.status}`;
  if (res.status < 400) return null;
  try {
    const body = JSON.parse(res.text) as { error?: { code?: unknown }; request_id?: unknown };
    return typeof body.error?.code === 'string' && body.request_id === requestId ? null : 'an error outside the envelope';
  } catch {
    return 'an error body that is not JSON';
  }
}

function judge(operation: Operation, req: FuzzRequest, res: FuzzResponse, validator: ResponseValidator): string | null {
  const requestId = res.headers['x-request-id'];
  if (typeof requestId !== 'string' || !ULID_OR_CALLER.test(requestId)) return 'no X-Request-ID';
  if (res.status >= 500) return `a ${res.status}`;
  let body: unknown = undefined;
  if (res.text) {
    try {
      body = JSON.parse(res.text);
    } catch {
      return 'a body that is not JSON';
    }
  }
  if (res.status >= 400) {
    const envelope = body as { error?: { code?: unknown; message?: unknown }; request_id?: unknown; detail?: unknown };
    if (typeof envelope?.error?.code !== 'string' || typeof envelope.error.message !== 'string' || !('details' in envelope.error))
      return 'an error outside the envelope';
    if (envelope.request_id !== requestId) return 'request_id differs from X-Request-ID';
    // Validation errors carry FastAPI's detail list too (docs/api.md#validation-errors); other 422s (idempotency_key_reused) are the plain envelope.
    if (res.status === 422 && envelope.error.code === 'validation_error' && !Array.isArray(envelope.detail)) return 'a 422 without its detail list';
    if (req.method !== operation.method.toUpperCase() && res.status !== 405) return `a wrong method answered ${res.status}, not 405`;
    if (res.status === 405 && !String(res.headers.allow ?? '').includes(operation.method.toUpperCase())) return 'a 405 whose Allow lacks the served method';
    return null;
  }
  if (req.method !== operation.method.toUpperCase()) return `a wrong method answered ${res.status}`;
  if (req.foreign) return `another organization's id answered ${res.status}`;
  if (res.status === 304 || res.status === 204)
    return res.text ? `a ${res.status} with a body` : validator.check(operation, res.status, undefined) && `status ${res.status} is not documented`;
  const problem = validator.check(operation, res.status, body);
  if (problem) return `the body does not match the served document: ${problem}`;
  const referenceOp = (reference.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)[operation.path]?.[operation.method];
  if (referenceOp?.responses[String(res.status)]) {
    try {
      expectSpecResponse(operation.method, operation.path, res.status, body);
    } catch (error) {
      return `the body does not match the reference document: ${(error as Error).message.slice(0, 400)}`;
    }
  }
  return null;
}

function show(req: FuzzRequest): string {
  const body = req.body === undefined ? '' : ` body=${req.body.length > 300 ? `${req.body.slice(0, 300)}… (${req.body.length} chars)` : req.body}`;
  const url = req.url.length > 300 ? `${req.url.slice(0, 300)}… (${req.url.length} chars)` : req.url;
  return `${req.method} ${url} as ${req.role ?? 'nobody'} [${req.broken}] headers=${JSON.stringify(req.headers)}${body}`;
}

/** An organization with one of everything the document's paths name. */
async function fixtures(t: TestApp) {
  const org = await newOrg();
  const flow = await createFlow(t, org.auth);
  const executions = [(await createExecution(t, org.auth, flow)).id, (await createExecution(t, org.auth, flow)).id];
  const task = await t
    .http()
    .post('/api/task-executions')
    .set(org.auth('worker'))
    .send({ flow_execution_id: executions[0], task_name: 'receive', task_execution_idx: 0, processing_status: 'completed', tags: ['priority:high'] })
    .expect(201);
  const account = await t.http().post('/api/service-accounts').set(org.auth()).send({ name: 'fuzz' }).expect(201);
  const key = await t.http().post(`/api/service-accounts/${account.body.id}/api-keys`).set(org.auth()).send({ name: 'fuzz' }).expect(201);
  // A bulk action over no run (completed at once), so that it changes none of the runs above.
  const bulk = await t
    .http()
    .post('/api/bulk-actions')
    .set(org.auth())
    .send({ action: 'cancel', selection: { flow_id: flow, status: ['failed'] } })
    .expect(202);
  return {
    org,
    ids: {
      flow: [flow],
      execution: executions,
      task: [task.body.id],
      serviceAccount: [account.body.id],
      apiKey: [key.body.id],
      bulkAction: [bulk.body.id],
    } as Record<string, string[]>,
  };
}
