import Ajv2020 from 'ajv/dist/2020';
import { randomUUID } from 'node:crypto';
import { RE2JS } from 're2js';
import { compileTenantSchema } from '../../src/common/validation/json-schema';
import * as definitions from '../../src/flows/flow-definition';
import { createFlow, definitionOf, TaskSpec } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { newOrg } from '../utils/tokens';

/**
 * Schema and pattern work runs on the JSON workers (docs/api.md#event-loop-budget): the checks and
 * analysis of a definition being saved when it compiles schemas or is large, and every check of a
 * value against a schema that holds patterns, whatever the body's size. This suite counts what runs
 * on the server's thread (the test's own: the app is in process; worker threads have modules of
 * their own) while a request is served, and compares the answers with the ones the event loop gives.
 */

type Org = Awaited<ReturnType<typeof newOrg>>;
type Counted = 'patternCompiled' | 'patternMatched' | 'schemaCompiled' | 'limitsChecked' | 'definitionChecked' | 'issuesListed' | 'ordered';

describe('schema work on JSON workers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  /** Calls made on this (the server's) thread while `work` runs, of the functions that do schema and definition work. */
  async function onThisThread<T>(work: () => Promise<T>): Promise<{ result: T; calls: Record<Counted, number> }> {
    const spies = {
      patternCompiled: jest.spyOn(RE2JS, 'compile'),
      patternMatched: jest.spyOn(RE2JS.prototype, 'test'),
      schemaCompiled: jest.spyOn(Ajv2020.prototype, 'compile'),
      limitsChecked: jest.spyOn(definitions, 'definitionLimitIssues'),
      definitionChecked: jest.spyOn(definitions, 'validateFlowDefinition'),
      issuesListed: jest.spyOn(definitions, 'dslIssues'),
      ordered: jest.spyOn(definitions, 'orderedTaskNames'),
    };
    try {
      const result = await work();
      const calls = Object.fromEntries(Object.entries(spies).map(([name, spy]) => [name, spy.mock.calls.length])) as Record<Counted, number>;
      return { result, calls };
    } finally {
      for (const spy of Object.values(spies)) spy.mockRestore();
    }
  }
  const none: Record<Counted, number> = {
    patternCompiled: 0,
    patternMatched: 0,
    schemaCompiled: 0,
    limitsChecked: 0,
    definitionChecked: 0,
    issuesListed: 0,
    ordered: 0,
  };

  const includes = 'include_ordered_task_names=true&include_validation_errors=true';
  const post = (org: Org, path: string, body: object, role?: Parameters<Org['auth']>[0]) => t.http().post(path).set(org.auth(role)).send(body);
  // Patterns never seen by this process: nothing compiled for another test can be reused.
  const fresh = () => `^[a-z]+$|^${randomUUID().replace(/-/g, '')}$`;
  const withoutRequestId = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });

  describe('saving a flow', () => {
    it('compiles the schemas of a definition, and analyses it, on a worker; its answer includes the order and no problems', async () => {
      const org = await newOrg();
      const tasks: TaskSpec[] = [
        { name: 'later', task_executor_name: 'doc_to_structured', parameters: { src: '{{in.out}}' } },
        { name: 'in', parameters: { input_schema: { type: 'object', properties: { code: { type: 'string', pattern: fresh() } } } } },
        {
          name: 'approve',
          task_executor_name: 'webhook_receiver',
          parameters: { after: '{{later.out}}', fields: { ok: { type: 'string', pattern: fresh() } } },
        },
      ];
      const { result: saved, calls } = await onThisThread(() =>
        post(org, `/api/flows?${includes}`, { display_name: 'patterns', definition: definitionOf(tasks) }),
      );
      expect(saved.status).toBe(201);
      expect(calls).toEqual(none);
      expect(saved.body.task_names).toEqual(['in', 'later', 'approve']);
      expect(saved.body.validation_errors).toEqual([]);

      const { result: changed, calls: again } = await onThisThread(() =>
        t
          .http()
          .put(`/api/flows/${saved.body.id}/definition?${includes}`)
          .set(org.auth())
          .send({ definition: definitionOf(tasks.slice(1, 2)) }),
      );
      expect(changed.status).toBe(200);
      expect(again).toEqual(none);
      expect(changed.body.task_names).toEqual(['in']);

      // What the worker found is what a read of the stored version computes here.
      const read = await t.http().get(`/api/flows/${saved.body.id}/versions/1?${includes}`).set(org.auth());
      expect([read.body.task_names, read.body.validation_errors]).toEqual([saved.body.task_names, []]);
    });

    it('checks a large definition on a worker, with the answers a small one gets on the event loop', async () => {
      const org = await newOrg();
      const broken: TaskSpec[] = [
        { name: 'a', parameters: { src: '{{b.out}}' } },
        { name: 'b', parameters: { src: '{{a.out}} {{nowhere.out}}' } },
        { name: 'a', task_executor_name: '' },
      ];
      // The same problems, and a task of 24,000 characters of unclosed templates.
      const padded = [...broken, { name: 'pad', parameters: { note: '{{ '.repeat(8_000) } }];
      const small = await onThisThread(() => post(org, '/api/flows', { display_name: 'small', definition: definitionOf(broken) }));
      const large = await onThisThread(() => post(org, '/api/flows', { display_name: 'large', definition: definitionOf(padded) }));
      expectEnvelope(small.result, 400, 'invalid_dsl_input');
      expect(small.calls.definitionChecked).toBe(1);
      expect(large.calls).toEqual(none);
      expect(withoutRequestId(large.result.body)).toEqual(withoutRequestId(small.result.body));

      const tooLong = await onThisThread(() =>
        post(org, '/api/flows', { display_name: 'long', definition: definitionOf([{ name: 'a', parameters: { s: 'x'.repeat(70_000) } }]) }),
      );
      expect(tooLong.calls).toEqual(none);
      expectEnvelope(tooLong.result, 422, 'validation_error');
      expect(tooLong.result.body.detail).toEqual([
        {
          loc: ['body', 'definition', 'flow_configs', 0, 'config', 'tasks', 0, 'parameters', 's'],
          msg: 'String is too long (more than 65536 characters)',
          type: 'limit_exceeded',
          input: null,
        },
      ]);

      // 1,000 tasks, each b waiting on an a defined after all of them: each b is ready right after its a.
      const many = Array.from({ length: 1000 }, (_, i) => (i < 500 ? { name: `b${i}`, parameters: { src: `{{a${499 - i}.o}}` } } : { name: `a${i - 500}` }));
      const saved = await onThisThread(() => post(org, `/api/flows?${includes}`, { display_name: 'many', definition: definitionOf(many) }));
      expect(saved.result.status).toBe(201);
      expect(saved.calls).toEqual(none);
      const order = saved.result.body.task_names as string[];
      expect([order.length, order.slice(0, 4), order.slice(-2)]).toEqual([1000, ['a0', 'b499', 'a1', 'b498'], ['a499', 'b0']]);
    });

    it("derives a stored version's problems and order on a worker when a read includes them, as the event loop does", async () => {
      const org = await newOrg();
      const withSchema = await createFlow(t, org.auth, [
        { name: 'in', parameters: { input_schema: { type: 'object', properties: { a: { type: 'string', pattern: fresh() } } } } },
      ]);
      const read = await onThisThread(() => t.http().get(`/api/flows/${withSchema}?${includes}`).set(org.auth()));
      expect(read.calls).toEqual(none);
      expect([read.result.body.task_names, read.result.body.validation_errors]).toEqual([['in'], []]);

      // Stored before the rules they break existed: the same problems, one of them small enough for the event loop.
      const broken: TaskSpec[] = [
        { name: 'a', parameters: { x: '{{ghost.y}}', y: '{{b.o}}' } },
        { name: 'b', parameters: { x: '{{a.o}}' } },
      ];
      const [small, large] = [await createFlow(t, org.auth, [{ name: 'in' }]), await createFlow(t, org.auth, [{ name: 'in' }])];
      for (const [id, tasks] of [
        [small, broken],
        [large, [...broken, { name: 'pad', parameters: { note: 'n'.repeat(8_000) } }]],
      ] as const) {
        await t.dataSource.query(`UPDATE flow_versions SET definition = $2 WHERE flow_id = $1`, [id, JSON.stringify(definitionOf([...tasks]))]);
      }
      const here = await onThisThread(() => t.http().get(`/api/flows/${small}?${includes}`).set(org.auth()));
      const there = await onThisThread(() => t.http().get(`/api/flows/${large}?${includes}`).set(org.auth()));
      expect([here.calls.issuesListed, here.calls.ordered]).toEqual([1, 1]);
      expect(there.calls).toEqual(none);
      expect(there.result.body.validation_errors).toEqual(here.result.body.validation_errors);
      expect(here.result.body.validation_errors).toHaveLength(2);
      // a and b wait on each other: tasks on a cycle come last.
      expect(there.result.body.task_names).toEqual(['pad', ...(here.result.body.task_names as string[])]);
    });

    it('keeps a small definition without schemas on the event loop', async () => {
      const org = await newOrg();
      const { result, calls } = await onThisThread(() => post(org, '/api/flows', { display_name: 'plain', definition: definitionOf([{ name: 'in' }]) }));
      expect(result.status).toBe(201);
      expect([calls.limitsChecked, calls.definitionChecked]).toEqual([1, 1]);
    });
  });

  describe('checking values against patterns', () => {
    it("matches a small create's input on a worker, with the items the event loop gives", async () => {
      const org = await newOrg();
      const pattern = fresh();
      const flowId = await createFlow(t, org.auth, [
        { name: 'in', parameters: { input_schema: { type: 'object', required: ['code'], properties: { code: { type: 'string', pattern } } } } },
      ]);
      const refused = await onThisThread(() => post(org, '/api/flow-executions', { flow_id: flowId, input: { code: 'ABC' } }));
      expect(refused.calls).toEqual(none);
      expectEnvelope(refused.result, 400, 'bad_request', 'Input does not match the input schema of the flow');
      expect(refused.result.body.error.details).toEqual([{ loc: ['body', 'input', 'code'], msg: `must match pattern "${pattern}"`, type: 'pattern' }]);
      const missing = await post(org, '/api/flow-executions', { flow_id: flowId, input: {} });
      expect(missing.body.error.details).toEqual([{ loc: ['body', 'input', 'code'], msg: "must have required property 'code'", type: 'required' }]);
      const accepted = await onThisThread(() => post(org, '/api/flow-executions', { flow_id: flowId, input: { code: 'abc' } }));
      expect(accepted.result.status).toBe(201);
      expect(accepted.calls).toEqual(none);
    });

    it('matches webhook data on a worker', async () => {
      const org = await newOrg();
      const pattern = fresh();
      const flowId = await createFlow(t, org.auth, [
        { name: 'receive' },
        { name: 'approve', task_executor_name: 'webhook_receiver', parameters: { after: '{{receive.out}}', fields: { code: { type: 'string', pattern } } } },
      ]);
      const id = (await post(org, '/api/flow-executions', { flow_id: flowId, input: {} })).body.id as string;
      const refused = await onThisThread(() => post(org, `/api/flow-executions/${id}/webhook-data`, { task_name: 'approve', data: { code: 'ABC' } }, 'worker'));
      expect(refused.calls).toEqual(none);
      expectEnvelope(refused.result, 422, 'validation_error');
      expect(refused.result.body.detail).toEqual([{ loc: ['body', 'data', 'code'], msg: `must match pattern "${pattern}"`, type: 'pattern' }]);
      const accepted = await onThisThread(() =>
        post(org, `/api/flow-executions/${id}/webhook-data`, { task_name: 'approve', data: { code: 'abc' } }, 'worker'),
      );
      expect(accepted.result.status).toBe(200);
      expect(accepted.calls).toEqual(none);
    });

    it('answers a stored schema that no longer compiles as the event loop did', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth, [
        { name: 'in', parameters: { input_schema: { type: 'object', properties: { code: { type: 'string', pattern: fresh() } } } } },
      ]);
      // A flow saved before the limits existed: a lookbehind, which RE2 cannot run.
      const schema = { type: 'object', properties: { code: { type: 'string', pattern: '(?<=a)b' } } };
      await t.dataSource.query(`UPDATE flow_versions SET definition = $2 WHERE flow_id = $1`, [
        flowId,
        JSON.stringify(definitionOf([{ name: 'in', parameters: { input_schema: schema } }])),
      ]);
      await t.dataSource.query(`SELECT pg_notify('flow_changes', $1)`, [flowId]);
      let message = '';
      try {
        compileTenantSchema(schema);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/RE2/);
      const refused = await t
        .http()
        .post('/api/flow-executions')
        .set(org.auth())
        .send({ flow_id: flowId, input: { code: 'b' } });
      expectEnvelope(refused, 400, 'bad_request', `The schema of this flow cannot be used: ${message}`);
    });

    it('compiles and checks against a large schema without patterns on a worker', async () => {
      const org = await newOrg();
      const properties = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, { type: 'integer', minimum: i }]));
      expect(JSON.stringify(properties).length).toBeGreaterThan(1_024);
      const flowId = await createFlow(t, org.auth, [{ name: 'in', parameters: { input_schema: { type: 'object', properties } } }]);
      const { result, calls } = await onThisThread(() => post(org, '/api/flow-executions', { flow_id: flowId, input: { p7: 1 } }));
      expect(calls).toEqual(none);
      expect(result.body.error.details).toEqual([{ loc: ['body', 'input', 'p7'], msg: 'must be >= 7', type: 'minimum' }]);
    });

    it('keeps a small input against a small schema without patterns on the event loop', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth, [
        { name: 'in', parameters: { input_schema: { type: 'object', properties: { n: { type: 'integer', minimum: 3 } } } } },
      ]);
      const { result, calls } = await onThisThread(() => post(org, '/api/flow-executions', { flow_id: flowId, input: { n: 1 } }));
      expect(result.body.error.details).toEqual([{ loc: ['body', 'input', 'n'], msg: 'must be >= 3', type: 'minimum' }]);
      expect(calls.schemaCompiled).toBe(1);
    });
  });
});
