import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { definitionOf, TaskSpec } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';

/**
 * Inputs built to make one request expensive for the whole process (backtracking regexes, quadratic
 * checks, deep nesting). Each is sent next to a benign request of the same route and size: its own
 * time must stay within a small multiple of the benign one, and `/health/live` must answer while it
 * runs. No absolute times are asserted: the machine may be slow, but it must not be stalled.
 */

type Org = Awaited<ReturnType<typeof newOrg>>;
type Json = Record<string, unknown>;

// A hostile request may cost this many times its benign twin; a stall costs hundreds.
const SLOWER = 8;
// /health/live, sent while the hostile request runs, may take this many times as long as beside the benign one.
const HEALTH_SLOWER = 8;

interface Sent {
  status: number;
  body: Json;
  ms: number;
  /** The slowest /health/live of those sent one after another while the request ran. */
  healthMs: number;
}

describe('hostile input', () => {
  let t: TestApp;
  let origin: string;
  let quietHealthMs: number;

  beforeAll(async () => {
    t = await createTestApp();
    await new Promise<void>((resolve) => t.app.getHttpServer().listen(0, '127.0.0.1', () => resolve()));
    origin = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    const quiet: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await (await fetch(`${origin}/health/live`)).text();
      quiet.push(performance.now() - started);
    }
    quietHealthMs = median(quiet);
  });
  afterAll(() => t.close());

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

  /** Sends one request and, until it is answered, /health/live after /health/live, timing each. */
  async function send(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Sent> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const started = performance.now();
    let finished = 0;
    const request = fetch(`${origin}${path}`, {
      method,
      headers: { ...(payload !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: payload,
    }).then(async (res) => {
      const text = await res.text();
      finished = performance.now();
      return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
    });
    let healthMs = 0;
    while (finished === 0) {
      const healthStarted = performance.now();
      await (await fetch(`${origin}/health/live`)).text();
      healthMs = Math.max(healthMs, performance.now() - healthStarted);
    }
    const { status, body: json } = await request;
    return { status, body: json, ms: finished - started, healthMs };
  }

  const within = (what: string, value: number, limit: number) => expect({ what, value, within: value <= limit }).toEqual({ what, value, within: true });

  /**
   * The benign twin a few times (its medians are the yardsticks), then the hostile request; asserts the
   * hostile one stayed within `SLOWER` times the benign one, and so did the slowest /health/live sent meanwhile.
   */
  async function compare(benign: () => Promise<Sent>, hostile: () => Promise<Sent>): Promise<{ benign: Sent; hostile: Sent }> {
    const calm: Sent[] = [];
    for (let i = 0; i < 3; i++) calm.push(await benign());
    // The best of two: one GC pause or a busy neighbour must not fail the test; a stall slows both.
    const tries = [await hostile(), await hostile()];
    const best = (key: 'ms' | 'healthMs') => Math.min(...tries.map((s) => s[key]));
    within('hostile ms', best('ms'), SLOWER * Math.max(median(calm.map((s) => s.ms)), quietHealthMs));
    within('/health/live ms meanwhile', best('healthMs'), HEALTH_SLOWER * Math.max(median(calm.map((s) => s.healthMs)), quietHealthMs));
    return { benign: calm[0], hostile: tries.reduce((a, b) => (b.ms < a.ms ? b : a)) };
  }

  const post = (org: Org, path: string, body: unknown, role: Parameters<Org['auth']>[0] = 'org_admin', headers: Record<string, string> = {}) =>
    send('POST', path, { ...org.auth(role), ...headers }, body);

  async function flowOf(org: Org, tasks: TaskSpec[]): Promise<string> {
    const res = await post(org, '/api/flows', { display_name: 'hostile', definition: definitionOf(tasks) });
    if (res.status !== 201) throw new Error(`flow: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  }

  const inputFlow = (org: Org, inputSchema: object) => flowOf(org, [{ name: 'in', parameters: { input_schema: inputSchema } }]);

  describe('templates in a definition', () => {
    // `{{` and 2,000 spaces: the template regex took 5.5 s on this (cubic backtracking).
    const definition = (parameter: string) => definitionOf([{ name: 'in' }, { name: 'next', parameters: { text: parameter, src: '{{in.out}}' } }]);
    const hostileText = '{{' + ' '.repeat(2000);
    const benignText = 'xx' + ' '.repeat(2000);

    it('are scanned in linear time when a flow is saved', async () => {
      const org = await newOrg();
      const { hostile } = await compare(
        () => post(org, '/api/flows', { display_name: 'benign', definition: definition(benignText) }),
        () => post(org, '/api/flows', { display_name: 'hostile', definition: definition(hostileText) }),
      );
      expect(hostile.status).toBe(201);
    });

    it('and when a run is created and the flow read with include_ordered_task_names', async () => {
      const org = await newOrg();
      const benignFlow = (await post(org, '/api/flows', { display_name: 'b', definition: definition(benignText) })).body.id as string;
      const hostileFlow = (await post(org, '/api/flows', { display_name: 'h', definition: definition(hostileText) })).body.id as string;
      const run = await compare(
        () => post(org, '/api/flow-executions', { flow_id: benignFlow, input: {} }),
        () => post(org, '/api/flow-executions', { flow_id: hostileFlow, input: {} }),
      );
      expect(run.hostile.status).toBe(201);
      const read = await compare(
        () => send('GET', `/api/flows/${benignFlow}?include_ordered_task_names=true`, org.auth()),
        () => send('GET', `/api/flows/${hostileFlow}?include_ordered_task_names=true`, org.auth()),
      );
      expect(read.hostile.body.task_names).toEqual(['in', 'next']);
    });

    it('are at most 1,000 per flow, ordered without shifting arrays however many are ready at once', async () => {
      const org = await newOrg();
      const task = (name: string, p: string) => ({ name, parameters: { p } });
      const k = 500;
      // The order's worst case: each b-task waits for an a-task that comes after all b-tasks. Benign: a chain.
      const crossed = [
        ...Array.from({ length: k }, (_, j) => task(`b${j}`, `{{a${k - 1 - j}.o}}`)),
        ...Array.from({ length: k }, (_, j) => task(`a${j}`, `xxb${j}.oxx`)),
      ];
      const chained = [
        ...Array.from({ length: k }, (_, j) => task(`b${j}`, `{{a${k - 1 - j}.o}}`)),
        ...Array.from({ length: k }, (_, j) => task(`a${j}`, j ? `{{a${j - 1}.o}}` : 'xx')),
      ];
      const chain = await flowOf(org, chained);
      const cross = await flowOf(org, crossed);
      const { hostile } = await compare(
        () => send('GET', `/api/flows/${chain}?include_ordered_task_names=true`, org.auth()),
        () => send('GET', `/api/flows/${cross}?include_ordered_task_names=true`, org.auth()),
      );
      expect(hostile.status).toBe(200);
      expect((hostile.body.task_names as string[]).slice(0, 4)).toEqual(['a0', `b${k - 1}`, 'a1', `b${k - 2}`]);

      const tooMany = await post(org, '/api/flows', { display_name: 'big', definition: definitionOf([...crossed, task('one-more', 'x')]) });
      expect(tooMany.status).toBe(422);
      expect(tooMany.body.detail).toEqual([
        { loc: ['body', 'definition', 'flow_configs'], msg: 'A flow has at most 1000 tasks; this one has 1001', type: 'limit_exceeded', input: null },
      ]);
    });
  });

  describe('patterns in tenants’ schemas', () => {
    // /^(a|a)*$/ on 26 a's and '!' took 0.83 s, doubling with each extra character.
    const redos = { type: 'object', properties: { x: { type: 'string', pattern: '^(a|a)*$' } } };

    it('run on RE2 for execution input', async () => {
      const org = await newOrg();
      const flowId = await inputFlow(org, redos);
      const { hostile } = await compare(
        () => post(org, '/api/flow-executions', { flow_id: flowId, input: { x: 'b'.repeat(27) } }),
        () => post(org, '/api/flow-executions', { flow_id: flowId, input: { x: 'a'.repeat(26) + '!' } }),
      );
      expect(hostile.status).toBe(400);
      expect(hostile.body.error).toMatchObject({ code: 'bad_request', details: [{ loc: ['body', 'input', 'x'], type: 'pattern' }] });
    });

    it('run on RE2 for webhook data, sent by a worker', async () => {
      const org = await newOrg();
      const flowId = await flowOf(org, [
        { name: 'receive' },
        {
          name: 'approve',
          task_executor_name: 'webhook_receiver',
          parameters: { after: '{{receive.out}}', fields: { code: { type: 'string', pattern: '^(a|a)*$' } } },
        },
      ]);
      const id = (await post(org, '/api/flow-executions', { flow_id: flowId, input: {} })).body.id as string;
      const data = (code: string) => ({ task_name: 'approve', data: { code } });
      const { hostile } = await compare(
        () => post(org, `/api/flow-executions/${id}/webhook-data`, data('b'.repeat(27)), 'worker'),
        () => post(org, `/api/flow-executions/${id}/webhook-data`, data('a'.repeat(26) + '!'), 'worker'),
      );
      expect(hostile.status).toBe(422);
      expect(hostile.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'data', 'code'], type: 'pattern' })]);
    });

    it('that RE2 cannot run are refused at save with a 422 naming each, and nothing is stored', async () => {
      const org = await newOrg();
      const tasks: TaskSpec[] = [
        {
          name: 'in',
          parameters: { input_schema: { properties: { a: { type: 'string', pattern: '^(?!admin).*$' } }, patternProperties: { '^(x)\\1$': {} } } },
        },
        {
          name: 'w',
          task_executor_name: 'webhook_receiver',
          parameters: { after: '{{in.o}}', fields: { f: { type: 'string', format: 'email', pattern: '(?<=@)x' } } },
        },
      ];
      const res = await post(org, '/api/flows', { display_name: 'refused', definition: definitionOf(tasks) });
      expect(res.status).toBe(422);
      expect((res.body.error as Json).code).toBe('validation_error');
      const at = 'body.definition.flow_configs.0.config.tasks';
      expect((res.body.detail as { loc: string[] }[]).map((d) => d.loc.join('.')).sort()).toEqual([
        `${at}.0.parameters.input_schema.patternProperties.^(x)\\1$`,
        `${at}.0.parameters.input_schema.properties.a.pattern`,
        `${at}.1.parameters.fields.f.pattern`,
      ]);
      expect((res.body.detail as { msg: string }[]).every((d) => /RE2/.test(d.msg))).toBe(true);
      const list = await send('GET', '/api/flows', org.auth());
      expect(JSON.stringify(list.body)).not.toContain('refused');
    });

    it('are compiled once per flow version, a flow at a time, not on every read that includes validation errors', async () => {
      const org = await newOrg();
      const properties = (flow: number) =>
        Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`p${i}`, { type: 'string', pattern: `^(a|b)*a(a|b){28}$|^id${flow}x${i}$` }]));
      for (let f = 0; f < 10; f++) await inputFlow(org, { type: 'object', properties: properties(f) });
      const list = (query: string) => () => send('GET', `/api/flows?page_size=100${query}`, org.auth());
      // The first read compiles each flow's schemas, one flow at a time: other requests run in between.
      const cold = await list('&include_validation_errors=true')();
      within('longest /health/live during the first read, as a share of it', cold.healthMs / cold.ms, 0.5);
      const { hostile } = await compare(list(''), list('&include_validation_errors=true'));
      const flows = hostile.body.flows as { validation_errors: unknown[] }[];
      expect(flows).toHaveLength(10);
      expect(flows.every((f) => f.validation_errors.length === 0)).toBe(true);
    });

    it('stop with a 422 past the pattern budget of the request', async () => {
      const org = await newOrg();
      const flowOfPattern = (pattern: string) => inputFlow(org, { type: 'object', properties: { xs: { type: 'array', items: { type: 'string', pattern } } } });
      const costly = await flowOfPattern('^(a|b)*a(a|b){20}$');
      const cheap = await flowOfPattern('^[ab]*$');
      const xs = Array.from({ length: 50 }, () => 'ab'.repeat(500) + 'a'.repeat(21));
      const { hostile } = await compare(
        () => post(org, '/api/flow-executions', { flow_id: cheap, input: { xs } }),
        () => post(org, '/api/flow-executions', { flow_id: costly, input: { xs } }),
      );
      expect(hostile.status).toBe(422);
      expect(hostile.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'input'], type: 'too_costly' })]);
    });

    it('format url is checked in linear time', async () => {
      const org = await newOrg();
      const flowId = await inputFlow(org, { type: 'object', properties: { u: { type: 'string', format: 'url' } } });
      const { hostile } = await compare(
        () => post(org, '/api/flow-executions', { flow_id: flowId, input: { u: 'http://example.com/' + 'a'.repeat(30_000) + ' ' } }),
        () => post(org, '/api/flow-executions', { flow_id: flowId, input: { u: 'http://' + ':'.repeat(30_000) + '@' } }),
      );
      expect(hostile.status).toBe(400);
    });
  });

  describe('validation cost', () => {
    it('uniqueItems over thousands of objects is linear', async () => {
      const org = await newOrg();
      const items = Array.from({ length: 10_000 }, (_, i) => ({ id: i, kind: 'line' }));
      const unique = await inputFlow(org, { type: 'object', properties: { items: { type: 'array', uniqueItems: true } } });
      const plain = await inputFlow(org, { type: 'object', properties: { items: { type: 'array', maxItems: 100_000 } } });
      const { hostile } = await compare(
        () => post(org, '/api/flow-executions', { flow_id: plain, input: { items } }),
        () => post(org, '/api/flow-executions', { flow_id: unique, input: { items } }),
      );
      expect(hostile.status).toBe(201);
    });

    it('a schema that applies 2^24 subschemas to one value stops at its budget with a 422', async () => {
      const org = await newOrg();
      const $defs: Json = { a24: { type: 'string' } };
      for (let i = 0; i < 24; i++) $defs[`a${i}`] = { allOf: [{ $ref: `#/$defs/a${i + 1}` }, { $ref: `#/$defs/a${i + 1}` }] };
      const doubling = await inputFlow(org, { type: 'object', properties: { x: { $ref: '#/$defs/a0' } }, $defs });
      const plain = await inputFlow(org, { type: 'object', properties: { x: { type: 'string' } }, $defs });
      const { hostile } = await compare(
        () => post(org, '/api/flow-executions', { flow_id: plain, input: { x: 'x' } }),
        () => post(org, '/api/flow-executions', { flow_id: doubling, input: { x: 'x' } }),
      );
      expect(hostile.status).toBe(422);
      expect(hostile.body.detail).toEqual([expect.objectContaining({ type: 'too_costly', msg: expect.stringMatching(/too costly/) })]);
    });
  });

  describe('deep bodies', () => {
    const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

    it('with an Idempotency-Key are a 400 in the envelope, never a 500', async () => {
      const org = await newOrg();
      const flowId = await flowOf(org, [{ name: 'in' }]);
      const body = (input: string) => `{"flow_id":"${flowId}","input":{"x":${input}}}`;
      const { hostile } = await compare(
        () => post(org, '/api/flow-executions', body(JSON.stringify('['.repeat(20_000))), 'org_admin', { 'Idempotency-Key': randomUUID() }),
        () => post(org, '/api/flow-executions', body(deep(20_000)), 'org_admin', { 'Idempotency-Key': randomUUID() }),
      );
      expect(hostile.status).toBe(400);
      expect(hostile.body).toMatchObject({ error: { code: 'bad_request', message: 'Request body is nested too deeply (more than 64 levels)' } });
    });

    it('are a 400 on every operation that takes JSON, before anything else looks at them', async () => {
      const org = await newOrg();
      const openapi = (await send('GET', '/openapi.json', {})).body as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
      const operations = Object.entries(openapi.paths).flatMap(([path, methods]) =>
        Object.entries(methods)
          .filter(([, op]) => op.requestBody)
          .map(([method]) => [method.toUpperCase(), path.replace(/\{[^}]+\}/g, randomUUID())] as const),
      );
      expect(operations.length).toBeGreaterThan(10);
      for (const [method, path] of operations) {
        const res = await send(method, path, { ...org.auth(), 'Idempotency-Key': randomUUID() }, `{"a":${deep(100)}}`);
        expect({ method, path, status: res.status, code: (res.body.error as Json)?.code }).toEqual({ method, path, status: 400, code: 'bad_request' });
        // Exactly at the limit the body is read (then judged on its fields).
        const within = await send(method, path, org.auth(), deep(64));
        expect({
          method,
          path,
          deepOk: within.status !== 500 && within.body.error !== undefined && (within.body.error as Json).message !== hostileMessage,
        }).toEqual({ method, path, deepOk: true });
      }
    });
  });

  describe('regular expressions over headers, paths and queries', () => {
    it('take linear time on pathological values', async () => {
      const org = await newOrg();
      const flowId = await flowOf(org, [{ name: 'in' }]);
      const id = (await post(org, '/api/flow-executions', { flow_id: flowId, input: {} })).body.id as string;
      const get =
        (path: string, headers: Record<string, string> = {}) =>
        () =>
          send('GET', path, { ...org.auth(), ...headers });
      const cases: [string, () => Promise<Sent>, () => Promise<Sent>][] = [
        ['Prefer', get(`/api/flow-executions/${id}`, { Prefer: 'wait=1' }), get(`/api/flow-executions/${id}`, { Prefer: 'wait' + ' '.repeat(8000) + '=' })],
        [
          'If-None-Match',
          get(`/api/flow-executions/${id}`, { 'If-None-Match': '"x"' }),
          get(`/api/flow-executions/${id}`, { 'If-None-Match': 'W/'.repeat(4000) }),
        ],
        [
          'X-Request-ID',
          get(`/api/flow-executions/${id}`, { 'X-Request-ID': 'a' }),
          get(`/api/flow-executions/${id}`, { 'X-Request-ID': 'a'.repeat(8000) + '!' }),
        ],
        ['path id', get(`/api/flow-executions/${randomUUID()}`), get(`/api/flow-executions/${'0'.repeat(8000)}-`)],
        ['tags', get(`/api/flow-executions?flow_id=${flowId}&tags=a:b`), get(`/api/flow-executions?flow_id=${flowId}&tags=${'a'.repeat(8000)}`)],
        ['search', get(`/api/flows?search=a`), get(`/api/flows?search=${'%25_%5C'.repeat(2000)}`)],
        ['event cursor', get(`/api/flow-executions/events?after=1`), get(`/api/flow-executions/events?after=${'9'.repeat(8000)}x`)],
        [
          'Idempotency-Key',
          () => post(org, '/api/flow-executions', { flow_id: flowId, input: {} }, 'org_admin', { 'Idempotency-Key': randomUUID() }),
          () => post(org, '/api/flow-executions', { flow_id: flowId, input: {} }, 'org_admin', { 'Idempotency-Key': 'a '.repeat(4000) + '\u00e9' }),
        ],
        [
          'traceparent',
          () => post(org, '/api/flow-executions', { flow_id: flowId, input: {} }, 'org_admin', { traceparent: TRACEPARENT }),
          () =>
            post(org, '/api/flow-executions', { flow_id: flowId, input: {} }, 'org_admin', {
              traceparent: `${TRACEPARENT.replace(/^00/, 'cc')}${'-'.repeat(4000)}`,
            }),
        ],
        [
          'tracestate',
          () => post(org, '/api/flow-executions', { flow_id: flowId, input: {} }, 'org_admin', { traceparent: TRACEPARENT, tracestate: 'a=1' }),
          () =>
            post(org, '/api/flow-executions', { flow_id: flowId, input: {} }, 'org_admin', {
              traceparent: TRACEPARENT,
              tracestate: ` ,${' \t'.repeat(1000)},`.repeat(2) + Array.from({ length: 32 }, (_, i) => `k${i}=${'v'.repeat(255)} `).join(','),
            }),
        ],
      ];
      for (const [name, benign, hostile] of cases) {
        const { hostile: sent } = await compare(benign, hostile);
        expect({ name, status: sent.status < 500 }).toEqual({ name, status: true });
      }
    });

    it('strings a body may hold are checked for storability in linear time', async () => {
      const org = await newOrg();
      const flowId = await flowOf(org, [{ name: 'in' }]);
      const { hostile } = await compare(
        () => post(org, '/api/flow-executions', { flow_id: flowId, input: { s: 'a'.repeat(600_000) } }),
        () => post(org, '/api/flow-executions', { flow_id: flowId, input: { s: '\uDC00'.repeat(100_000) + ' =' } }),
      );
      expect(hostile.status).toBe(422);
    });
  });
});

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const hostileMessage = 'Request body is nested too deeply (more than 64 levels)';
