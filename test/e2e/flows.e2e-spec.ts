import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import type { Role } from '../../src/common/auth/permissions';
import spec from '../contract/superai-flows-openapi.subset.json';
import { definitionOf, LINEAR_TASKS, TaskSpec } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { expectSpecResponse } from '../utils/spec';
import { newOrg } from '../utils/tokens';

const FLOWS = '/api/flows';
const FLOW = '/api/flows/{flow_id}';
const DEFINITION = '/api/flows/{flow_id}/definition';
const VERSIONS = '/api/flows/{flow_id}/versions';
const VERSION = '/api/flows/{flow_id}/versions/{version}';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const READERS: Role[] = ['org_admin', 'app_user', 'integration', 'publisher', 'worker', 'backoffice'];
const WRITERS: Role[] = ['org_admin', 'publisher', 'backoffice'];
const NON_WRITERS: Role[] = ['app_user', 'integration', 'worker'];

type Org = Awaited<ReturnType<typeof newOrg>>;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

const paths = spec.paths as unknown as Record<string, Record<string, { responses: Record<string, unknown> }>>;

/** Validates against the spec wherever it documents the status for the operation; the envelope always. */
function expectDocumented(method: Method, path: string, res: Response): void {
  if (paths[path][method].responses[String(res.status)]) expectSpecResponse(method, path, res.status, res.body);
}

function expectError(method: Method, path: string, res: Response, status: number, code: string, message?: string): void {
  expectEnvelope(res, status, code, message);
  expectDocumented(method, path, res);
}

/** Every field of FlowResponse, with the values a fresh flow of `org` at version 1 has. */
function flowShape(org: Org, extra: Record<string, unknown> = {}) {
  return {
    id: expect.stringMatching(UUID),
    created_at: expect.stringMatching(ISO_UTC),
    updated_at: expect.stringMatching(ISO_UTC),
    modified_by: 'user-org_admin',
    display_name: 'Invoices',
    description: null,
    version: 1,
    status: 'draft',
    is_latest: true,
    organization_id: org.id,
    definition: definitionOf(LINEAR_TASKS),
    settings: null,
    flow_executions_count: 0,
    latest_version_executions_count: null,
    task_names: null,
    validation_errors: null,
    tags: [],
    deleted: false,
    ...extra,
  };
}

describe('flows and versions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const createFlow = async (org: Org, body: Record<string, unknown> = {}, role: Role = 'org_admin') => {
    const res = await t
      .http()
      .post(FLOWS)
      .set(org.auth(role))
      .send({ display_name: 'Invoices', definition: definitionOf(LINEAR_TASKS), ...body });
    if (res.status !== 201) throw new Error(`create flow: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; display_name: string; created_at: string; updated_at: string };
  };
  const putDefinition = (org: Org, id: string, tasks: TaskSpec[] = LINEAR_TASKS) =>
    t
      .http()
      .put(`${FLOWS}/${id}/definition`)
      .set(org.auth())
      .send({ definition: definitionOf(tasks) });
  const deleteFlow = (org: Org, id: string) => t.http().delete(`${FLOWS}/${id}`).set(org.auth()).expect(204);

  /** One request per case, each with a fresh flow: the access rules every `/api/flows/{flow_id}...` route shares. */
  const routes: { name: string; method: Method; path: string; url: (id: string) => string; body?: object; writes: boolean }[] = [
    { name: 'GET flow', method: 'get', path: FLOW, url: (id) => `${FLOWS}/${id}`, writes: false },
    { name: 'PATCH flow', method: 'patch', path: FLOW, url: (id) => `${FLOWS}/${id}`, body: { display_name: 'x' }, writes: true },
    { name: 'DELETE flow', method: 'delete', path: FLOW, url: (id) => `${FLOWS}/${id}`, writes: true },
    {
      name: 'PUT definition',
      method: 'put',
      path: DEFINITION,
      url: (id) => `${FLOWS}/${id}/definition`,
      body: { definition: definitionOf(LINEAR_TASKS) },
      writes: true,
    },
    { name: 'GET versions', method: 'get', path: VERSIONS, url: (id) => `${FLOWS}/${id}/versions`, writes: false },
    { name: 'GET version', method: 'get', path: VERSION, url: (id) => `${FLOWS}/${id}/versions/1`, writes: false },
    { name: 'PATCH version', method: 'patch', path: VERSION, url: (id) => `${FLOWS}/${id}/versions/1`, body: { name: 'v1' }, writes: true },
  ];
  const call = (route: (typeof routes)[number], id: string, headers: Record<string, string>) => {
    const req = t.http()[route.method](route.url(id)).set(headers);
    return route.body ? req.send(route.body) : req;
  };

  describe.each(routes)('$name: access rules', (route) => {
    it('answers 401 without credentials', async () => {
      const org = await newOrg();
      const { id } = await createFlow(org);
      expectError(route.method, route.path, await call(route, id, {}), 401, 'unauthorized', 'Authentication required');
    });

    it('answers 400 for a malformed flow id', async () => {
      const org = await newOrg();
      expectError(route.method, route.path, await call(route, 'not-a-uuid', org.auth()), 400, 'bad_request', 'Invalid flow ID format');
    });

    it('answers 404 for an unknown flow', async () => {
      const org = await newOrg();
      expectError(route.method, route.path, await call(route, randomUUID(), org.auth()), 404, 'not_found', 'Flow not found');
    });

    it('answers 404 for a deleted flow', async () => {
      const org = await newOrg();
      const { id } = await createFlow(org);
      await deleteFlow(org, id);
      expectError(route.method, route.path, await call(route, id, org.auth()), 404, 'not_found', 'Flow not found');
    });

    it("answers 403 for another organization's flow, and shows nothing of it", async () => {
      const owner = await newOrg();
      const other = await newOrg();
      const flow = await createFlow(owner, { display_name: 'Secret payroll flow' });
      const res = await call(route, flow.id, other.auth());
      expectError(route.method, route.path, res, 403, 'forbidden', "User doesn't have access to this flow");
      expect(res.body.error.details).toBeNull();
      expect(JSON.stringify(res.body)).not.toMatch(/Secret payroll|receive_file/);
      await t.http().get(`${FLOWS}/${flow.id}`).set(owner.auth()).expect(200);
    });

    it(route.writes ? 'answers 403 to roles without flows:write' : 'is open to every role', async () => {
      const org = await newOrg();
      for (const role of route.writes ? NON_WRITERS : READERS) {
        const { id } = await createFlow(org);
        const res = await call(route, id, org.auth(role));
        if (route.writes) expectError(route.method, route.path, res, 403, 'forbidden');
        else expect({ role, status: res.status }).toEqual({ role, status: 200 });
      }
    });

    if (route.writes) {
      it('is open to org_admin, publisher and backoffice', async () => {
        const org = await newOrg();
        for (const role of WRITERS) {
          const { id } = await createFlow(org);
          const res = await call(route, id, org.auth(role));
          expect({ role, status: res.status }).toEqual({ role, status: route.method === 'delete' ? 204 : 200 });
        }
      });
    }
  });

  describe('POST /api/flows', () => {
    it('creates a draft flow at version 1 in the caller’s organization, ignoring fields it may not set', async () => {
      const org = await newOrg();
      const res = await t
        .http()
        .post(FLOWS)
        .set(org.auth())
        .send({
          display_name: 'Invoices',
          definition: definitionOf(LINEAR_TASKS),
          organization_id: randomUUID(),
          status: 'published',
          version: 7,
          deleted: true,
          flow_executions_count: 12,
        });
      expect(res.status).toBe(201);
      expectSpecResponse('post', FLOWS, 201, res.body);
      expect(res.body).toEqual(flowShape(org));
      expect(res.body.created_at).toBe(res.body.updated_at);
    });

    it('stores description, visibility, settings (defaults filled in) and tags', async () => {
      const org = await newOrg();
      const reviewView = randomUUID();
      const res = await t
        .http()
        .post(FLOWS)
        .set(org.auth('publisher'))
        .send({
          display_name: 'Tagged',
          description: 'Extracts *invoices*',
          definition: definitionOf(LINEAR_TASKS),
          visibility: 'organization',
          settings: { ttl: { seconds: 3600 }, review_view_id: reviewView, unknown: 1 },
          tags: ['finance', 'eu'],
        })
        .expect(201);
      expectSpecResponse('post', FLOWS, 201, res.body);
      expect(res.body).toMatchObject({
        display_name: 'Tagged',
        description: 'Extracts *invoices*',
        modified_by: 'user-publisher',
        settings: { ttl: { seconds: 3600 }, reexecute_on_update: false, review_view_id: reviewView },
        tags: ['finance', 'eu'],
      });
      const again = await t.http().get(`${FLOWS}/${res.body.id}`).set(org.auth()).expect(200);
      expect(again.body).toEqual(res.body);
    });

    it('lets backoffice create flows', async () => {
      const org = await newOrg();
      await t
        .http()
        .post(FLOWS)
        .set(org.auth('backoffice'))
        .send({ display_name: 'B', definition: definitionOf(LINEAR_TASKS) })
        .expect(201);
    });

    it('fills task_names and validation_errors when asked', async () => {
      const org = await newOrg();
      const tasks: TaskSpec[] = [
        { name: 'review', parameters: { data: '{{extract.output}}' } },
        { name: 'extract', parameters: { url: '{{receive.url}}' } },
        { name: 'receive' },
      ];
      const res = await t
        .http()
        .post(`${FLOWS}?include_ordered_task_names=true&include_validation_errors=1`)
        .set(org.auth())
        .send({ display_name: 'Ordered', definition: definitionOf(tasks) })
        .expect(201);
      expectSpecResponse('post', FLOWS, 201, res.body);
      expect(res.body.task_names).toEqual(['receive', 'extract', 'review']);
      expect(res.body.validation_errors).toEqual([]);
    });

    it('answers 401 without credentials and 403 to roles without flows:write', async () => {
      const org = await newOrg();
      const body = { display_name: 'x', definition: definitionOf(LINEAR_TASKS) };
      expectError('post', FLOWS, await t.http().post(FLOWS).send(body), 401, 'unauthorized');
      for (const role of NON_WRITERS) {
        expectError('post', FLOWS, await t.http().post(FLOWS).set(org.auth(role)).send(body), 403, 'forbidden');
      }
      const list = await t.http().get(FLOWS).set(org.auth()).expect(200);
      expect(list.body.total).toBe(0);
    });

    it.each([
      ['a missing display_name', { definition: definitionOf(LINEAR_TASKS) }, ['body', 'display_name']],
      ['an empty display_name', { display_name: '', definition: definitionOf(LINEAR_TASKS) }, ['body', 'display_name']],
      ['a display_name over 255 characters', { display_name: 'x'.repeat(256), definition: definitionOf(LINEAR_TASKS) }, ['body', 'display_name']],
      ['a missing definition', { display_name: 'x' }, ['body', 'definition']],
      ['a definition that is not an object', { display_name: 'x', definition: [1] }, ['body', 'definition']],
      [
        'a description over 5000 characters',
        { display_name: 'x', description: 'd'.repeat(5001), definition: definitionOf(LINEAR_TASKS) },
        ['body', 'description'],
      ],
      ['an unknown visibility', { display_name: 'x', visibility: 'everyone', definition: definitionOf(LINEAR_TASKS) }, ['body', 'visibility']],
      [
        'a TTL under a minute',
        { display_name: 'x', settings: { ttl: { seconds: 10 } }, definition: definitionOf(LINEAR_TASKS) },
        ['body', 'settings', 'ttl', 'seconds'],
      ],
      [
        'a review_view_id that is not a UUID',
        { display_name: 'x', settings: { review_view_id: 'v' }, definition: definitionOf(LINEAR_TASKS) },
        ['body', 'settings', 'review_view_id'],
      ],
      ['repeated tags', { display_name: 'x', tags: ['a', 'a'], definition: definitionOf(LINEAR_TASKS) }, ['body', 'tags']],
    ])('answers 422 for %s', async (_name, body, loc) => {
      const org = await newOrg();
      const res = await t.http().post(FLOWS).set(org.auth()).send(body);
      expectError('post', FLOWS, res, 422, 'validation_error', 'Request validation failed');
      expect(res.body.detail.map((d: { loc: unknown }) => d.loc)).toContainEqual(loc);
      expect(res.body.error.details).toEqual(res.body.detail);
    });

    it('answers 422 for a query boolean it cannot parse', async () => {
      const org = await newOrg();
      for (const param of ['include_ordered_task_names', 'include_validation_errors', 'include_dynamic_data']) {
        const res = await t
          .http()
          .post(`${FLOWS}?${param}=maybe`)
          .set(org.auth())
          .send({ display_name: 'x', definition: definitionOf(LINEAR_TASKS) });
        expectError('post', FLOWS, res, 422, 'validation_error');
        expect(res.body.detail[0].loc).toEqual(['query', param]);
      }
    });

    const receive = { name: 'receive', task_executor_name: 'receive_file', parameters: {} };
    const config = (tasks: unknown[]) => ({ flow: {}, flow_configs: [{ config: { tasks } }] });
    it.each([
      ['no flow_configs', { flow: {} }, ['flow_configs: Field required']],
      ['empty flow_configs', { flow: {}, flow_configs: [] }, ['flow_configs: Must contain at least one flow config']],
      ['no tasks at all', config([]), ['flow_configs: The flow must contain at least one task']],
      ['a task without a name', config([{ task_executor_name: 'x' }]), ['flow_configs.0.config.tasks.0.name: Task name must be a non-empty string']],
      [
        'a task without task_executor_name',
        config([{ name: 'a', parameters: {} }]),
        ['flow_configs.0.config.tasks.0.task_executor_name: Task executor name must be a non-empty string'],
      ],
      ['a duplicate task name', config([receive, receive]), ["flow_configs.0.config.tasks.1.name: Duplicate task name 'receive'"]],
      [
        'a reference to a task that does not exist',
        config([receive, { name: 'b', task_executor_name: 'x', parameters: { in: { url: '{{ghost.url}}' } } }]),
        ["flow_configs.0.config.tasks.1.parameters.in.url: Reference to unknown task 'ghost'"],
      ],
      [
        'a cycle',
        config([
          receive,
          { name: 'b', task_executor_name: 'x', parameters: { x: '{{c.out}}', y: '{{receive.f}}' } },
          { name: 'c', task_executor_name: 'x', parameters: { x: '{{b.out}}' } },
        ]),
        ["flow_configs.0.config.tasks.1: Circular dependency between tasks 'b', 'c'"],
      ],
    ])('answers 400 invalid_dsl_input for %s, and stores nothing', async (_name, definition, details) => {
      const org = await newOrg();
      const res = await t.http().post(FLOWS).set(org.auth()).send({ display_name: 'Bad', definition });
      expectError('post', FLOWS, res, 400, 'invalid_dsl_input', 'Invalid DSL input');
      expect(res.body.error.details).toEqual(details);
      const list = await t.http().get(FLOWS).set(org.auth()).expect(200);
      expect(list.body.total).toBe(0);
    });

    it('answers 400 invalid_dsl_input for an input schema that does not compile', async () => {
      const org = await newOrg();
      const tasks: TaskSpec[] = [{ name: 'receive', parameters: { input_schema: { type: 'object', properties: { n: { type: 'integr' } } } } }];
      const res = await t
        .http()
        .post(FLOWS)
        .set(org.auth())
        .send({ display_name: 'Bad', definition: definitionOf(tasks) });
      expectError('post', FLOWS, res, 400, 'invalid_dsl_input', 'Invalid DSL input');
      expect(res.body.error.details).toHaveLength(1);
      expect(res.body.error.details[0]).toMatch(/^flow_configs\.0\.config\.tasks\.0\.parameters\.input_schema: Invalid JSON Schema: /);
    });

    it('accepts an input task with a valid input schema', async () => {
      const org = await newOrg();
      const schema = { type: 'object', required: ['email'], properties: { email: { type: 'string', format: 'email' } } };
      const tasks: TaskSpec[] = [{ name: 'receive', parameters: { input_schema: schema } }, LINEAR_TASKS[1]];
      const flow = await createFlow(org, { definition: definitionOf(tasks) });
      const res = await t.http().get(`${FLOWS}/${flow.id}`).set(org.auth()).expect(200);
      expect(res.body.definition.flow_configs[0].config.tasks[0].parameters.input_schema).toEqual(schema);
    });
  });

  describe('GET /api/flows', () => {
    it('lists the organization’s live flows, newest first, 20 a page by default', async () => {
      const org = await newOrg();
      const other = await newOrg();
      await createFlow(other);
      const created = [];
      for (const name of ['one', 'two', 'three']) created.push(await createFlow(org, { display_name: name }));
      await deleteFlow(org, created[1].id);

      const res = await t.http().get(FLOWS).set(org.auth('worker')).expect(200);
      expectSpecResponse('get', FLOWS, 200, res.body);
      expect(res.body).toMatchObject({ total: 2, page: 1, page_size: 20 });
      expect(res.body.flows.map((f: { display_name: string }) => f.display_name)).toEqual(['three', 'one']);
      expect(res.body.flows[0]).toEqual(flowShape(org, { display_name: 'three', id: created[2].id }));
    });

    it('pages through the flows without repeating or skipping any', async () => {
      const org = await newOrg();
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) ids.add((await createFlow(org, { display_name: `flow ${i}` })).id);
      // Same created_at for two flows: the id breaks the tie.
      await t.dataSource.query(`UPDATE flows SET created_at = (SELECT min(created_at) FROM flows WHERE organization_id = $1) WHERE organization_id = $1`, [
        org.id,
      ]);

      const seen: string[] = [];
      for (const page of [1, 2, 3]) {
        const res = await t.http().get(`${FLOWS}?page=${page}&page_size=2`).set(org.auth()).expect(200);
        expectSpecResponse('get', FLOWS, 200, res.body);
        expect(res.body).toMatchObject({ total: 5, page, page_size: 2 });
        seen.push(...res.body.flows.map((f: { id: string }) => f.id));
      }
      expect(seen).toHaveLength(5);
      expect(new Set(seen)).toEqual(ids);
      expect(seen).toEqual([...ids].sort().reverse());

      const beyond = await t.http().get(`${FLOWS}?page=4&page_size=2`).set(org.auth()).expect(200);
      expect(beyond.body).toEqual({ flows: [], total: 5, page: 4, page_size: 2 });
    });

    it('sorts by display_name, created_at or updated_at in either direction', async () => {
      const org = await newOrg();
      const bravo = await createFlow(org, { display_name: 'bravo' });
      await createFlow(org, { display_name: 'alpha' });
      await createFlow(org, { display_name: 'charlie' });
      await t.http().patch(`${FLOWS}/${bravo.id}`).set(org.auth()).send({ description: 'touched' }).expect(200);

      const names = async (query: string) => {
        const res = await t.http().get(`${FLOWS}?${query}`).set(org.auth()).expect(200);
        return res.body.flows.map((f: { display_name: string }) => f.display_name);
      };
      expect(await names('sort_field=display_name&sort_direction=asc')).toEqual(['alpha', 'bravo', 'charlie']);
      expect(await names('sort_field=display_name&sort_direction=desc')).toEqual(['charlie', 'bravo', 'alpha']);
      expect(await names('sort_field=created_at&sort_direction=asc')).toEqual(['bravo', 'alpha', 'charlie']);
      expect(await names('sort_direction=asc')).toEqual(['bravo', 'alpha', 'charlie']);
      expect(await names('sort_field=updated_at&sort_direction=desc')).toEqual(['bravo', 'charlie', 'alpha']);
    });

    it('searches display names case-insensitively, with % and _ taken literally', async () => {
      const org = await newOrg();
      for (const name of ['Invoice intake', 'my INVOICES', 'Receipts', '100% done', '100 percent', 'a_b', 'axb']) await createFlow(org, { display_name: name });
      const names = async (search: string) => {
        const res = await t.http().get(FLOWS).query({ search, sort_field: 'display_name', sort_direction: 'asc' }).set(org.auth()).expect(200);
        expect(res.body.total).toBe(res.body.flows.length);
        return res.body.flows.map((f: { display_name: string }) => f.display_name).sort();
      };
      expect(await names('invoice')).toEqual(['Invoice intake', 'my INVOICES']);
      expect(await names('%')).toEqual(['100% done']);
      expect(await names('_')).toEqual(['a_b']);
      expect(await names('nothing like it')).toEqual([]);
      expect(await names('')).toHaveLength(7);
    });

    it('filters by tag groups, and by organization_id only ever within the caller’s organization', async () => {
      const org = await newOrg();
      await createFlow(org, { display_name: 'eu finance', tags: ['eu', 'finance'] });
      await createFlow(org, { display_name: 'us finance', tags: ['us', 'finance'] });
      await createFlow(org, { display_name: 'untagged' });
      const names = async (query: Record<string, string>) => {
        const res = await t
          .http()
          .get(FLOWS)
          .query({ ...query, sort_field: 'display_name', sort_direction: 'asc' })
          .set(org.auth())
          .expect(200);
        return res.body.flows.map((f: { display_name: string }) => f.display_name);
      };
      expect(await names({ tag_filters: JSON.stringify([{ mode: 'contains_any', values: ['eu', 'us'] }]) })).toEqual(['eu finance', 'us finance']);
      expect(await names({ tag_filters: JSON.stringify([{ values: ['finance'] }, { mode: 'not_contains_any', values: ['us'] }]) })).toEqual(['eu finance']);
      expect(await names({ tag_filters: JSON.stringify([{ mode: 'not_contains_any', values: ['finance'] }]) })).toEqual(['untagged']);
      expect(await names({ organization_id: org.id })).toHaveLength(3);
      expect(await names({ organization_id: randomUUID() })).toEqual([]);
      expect(await names({ is_cleanable: 'true' })).toEqual([]);
      expect(await names({ created_by_id: 'someone', include_dynamic_data: 'yes', include_input_schema: 'off' })).toHaveLength(3);
    });

    it('reads flow_executions_count from the flow and counts runs of the latest version that has any when asked', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const insertExecution = (version: number, run: number, status = 'completed') =>
        t.dataSource.query(
          `INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, modified_by, created_at, updated_at)
           VALUES ($1, $2, $3, $4, '{}', $5, 'test', now(), now())`,
          [org.id, flow.id, version, status, run],
        );
      await insertExecution(1, 1);
      await insertExecution(1, 2);
      await insertExecution(1, 3, 'deleted');
      await putDefinition(org, flow.id).expect(200);
      // The executions module keeps this column; a value no row count gives shows it is read, not counted.
      await t.dataSource.query(`UPDATE flows SET executions_count = 41 WHERE id = $1`, [flow.id]);

      const counted = async () => {
        const res = await t.http().get(`${FLOWS}?include_latest_version_executions_count=true`).set(org.auth()).expect(200);
        expectSpecResponse('get', FLOWS, 200, res.body);
        return res.body.flows[0];
      };
      expect(await counted()).toMatchObject({ flow_executions_count: 41, latest_version_executions_count: 2, version: 2 });
      await insertExecution(2, 4);
      expect(await counted()).toMatchObject({ latest_version_executions_count: 1 });

      const plain = await t.http().get(FLOWS).set(org.auth()).expect(200);
      expect(plain.body.flows[0]).toMatchObject({ flow_executions_count: 41, latest_version_executions_count: null });
      const one = await t.http().get(`${FLOWS}/${flow.id}`).set(org.auth()).expect(200);
      expect(one.body.flow_executions_count).toBe(41);
    });

    it('fills task_names and validation_errors of every listed flow when asked', async () => {
      const org = await newOrg();
      await createFlow(org);
      const res = await t.http().get(`${FLOWS}?include_ordered_task_names=YES&include_validation_errors=t`).set(org.auth()).expect(200);
      expectSpecResponse('get', FLOWS, 200, res.body);
      expect(res.body.flows[0]).toMatchObject({ task_names: ['receive', 'extract', 'review'], validation_errors: [] });
    });

    it('splices each definition into the page as PostgreSQL wrote it, the same JSON the flow itself answers (docs/api.md#event-loop-budget)', async () => {
      const org = await newOrg();
      const { id } = await createFlow(org);
      const res = await t.http().get(`${FLOWS}?include_ordered_task_names=true`).set(org.auth()).expect(200);
      expectSpecResponse('get', FLOWS, 200, res.body);
      const [{ text }] = await t.dataSource.query(`SELECT v.definition::text AS text FROM flow_versions v WHERE v.flow_id = $1`, [id]);
      expect(text).toContain('": '); // jsonb's spacing, which JSON.stringify never writes
      expect(res.text).toContain(`"definition":${text}`);
      const flow = await t.http().get(`${FLOWS}/${id}`).set(org.auth()).expect(200);
      expect(res.body.flows[0].definition).toEqual(flow.body.definition);
      // The derived parts still come from the definition, parsed from that text when first needed.
      expect(res.body.flows[0].task_names).toEqual(['receive', 'extract', 'review']);
    });

    it('a flow, its versions and a version splice the definition as PostgreSQL sent it, large and not ASCII alike', async () => {
      const org = await newOrg();
      // Past WORKER_DEFINITION_CHARS: the derived parts are computed on a worker, from that text.
      const tasks = [...LINEAR_TASKS, ...Array.from({ length: 60 }, (_, i) => ({ name: `étape ${i} ✓ 😀`, task_executor_name: 'human_review' }))];
      const created = await t
        .http()
        .post(FLOWS)
        .set(org.auth())
        .send({ display_name: 'Große', definition: definitionOf(tasks) })
        .expect(201);
      const { id } = created.body as { id: string };
      const [{ text }] = await t.dataSource.query(`SELECT v.definition::text AS text FROM flow_versions v WHERE v.flow_id = $1`, [id]);
      expect(text).toContain('": ');
      const includes = 'include_ordered_task_names=true&include_validation_errors=true';
      const answers = [
        await t.http().get(`${FLOWS}/${id}?${includes}`).set(org.auth()).expect(200),
        await t.http().get(`${FLOWS}/${id}/versions/1?${includes}`).set(org.auth()).expect(200),
      ];
      for (const res of answers) {
        expect(res.text).toContain(`"definition":${text}`);
        expect(res.body.definition).toEqual(definitionOf(tasks));
        expect(res.body.task_names).toEqual(tasks.map((task) => task.name));
        expect(res.body.validation_errors).toEqual([]);
      }
      expect(answers[0].body).toEqual({ ...created.body, task_names: expect.any(Array), validation_errors: [] });
      const versions = await t.http().get(`${FLOWS}/${id}/versions`).set(org.auth()).expect(200);
      expect(versions.text).toContain(`"definition":${text}`);
      expect(versions.body[0].definition).toEqual(definitionOf(tasks));
      // A page of flows, with a second flow after it: each definition in its place, the page's JSON whole.
      await createFlow(org);
      const page = await t.http().get(`${FLOWS}?${includes}&sort_direction=asc`).set(org.auth()).expect(200);
      expectSpecResponse('get', FLOWS, 200, page.body);
      expect(page.text).toContain(`"definition":${text}`);
      expect(page.body.flows.map((flow: { id: string }) => flow.id)[0]).toBe(id);
      expect(page.body.flows[0]).toEqual({ ...answers[0].body, latest_version_executions_count: null });
      expect(page.body.flows[1].task_names).toEqual(['receive', 'extract', 'review']);
      // Without includes (each flow straight from its row), the same flows but the derived parts.
      const plain = await t.http().get(`${FLOWS}?sort_direction=asc`).set(org.auth()).expect(200);
      expect(plain.text).toContain(`"definition":${text}`);
      expect(plain.body.flows[0]).toEqual(created.body);
      expect(plain.body.flows[1]).toEqual({ ...page.body.flows[1], task_names: null, validation_errors: null });
    });

    it('answers 401 without credentials', async () => {
      expectError('get', FLOWS, await t.http().get(FLOWS), 401, 'unauthorized');
    });

    it.each([
      ['page_size=0', 'page_size'],
      ['page_size=101', 'page_size'],
      ['page_size=ten', 'page_size'],
      ['page=0', 'page'],
      ['page=10001', 'page'],
      ['page=1.5', 'page'],
      ['sort_field=name', 'sort_field'],
      ['sort_direction=up', 'sort_direction'],
      ['include_ordered_task_names=maybe', 'include_ordered_task_names'],
      ['include_validation_errors=2', 'include_validation_errors'],
      ['include_latest_version_executions_count=nope', 'include_latest_version_executions_count'],
      ['include_output_schemas=x', 'include_output_schemas'],
      ['include_default_reference_modes=x', 'include_default_reference_modes'],
      ['is_cleanable=x', 'is_cleanable'],
      ['organization_id=acme', 'organization_id'],
      ['tag_filters=not-json', 'tag_filters'],
      [`tag_filters=${encodeURIComponent('[{"mode":"sometimes","values":["a"]}]')}`, 'tag_filters'],
    ])('answers 422 for %s', async (query, field) => {
      const org = await newOrg();
      const res = await t.http().get(`${FLOWS}?${query}`).set(org.auth());
      expectError('get', FLOWS, res, 422, 'validation_error');
      expect(res.body.detail[0].loc.slice(0, 2)).toEqual(['query', field]);
    });
  });

  describe('GET /api/flows/{flow_id}', () => {
    it('returns the latest version, also for an upper-case id', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      await putDefinition(org, flow.id, [{ name: 'only' }]).expect(200);
      const res = await t.http().get(`${FLOWS}/${flow.id.toUpperCase()}`).set(org.auth('app_user')).expect(200);
      expectSpecResponse('get', FLOW, 200, res.body);
      expect(res.body).toEqual(
        flowShape(org, { id: flow.id, version: 2, definition: definitionOf([{ name: 'only' }]), updated_at: expect.stringMatching(ISO_UTC) }),
      );
      expect(res.body.created_at).toBe(flow.created_at);
      expect(res.body.updated_at > flow.updated_at).toBe(true);
    });

    it('fills the expansions when asked, and answers 422 for a boolean it cannot parse', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const res = await t.http().get(`${FLOWS}/${flow.id}?include_ordered_task_names=on&include_validation_errors=y`).set(org.auth()).expect(200);
      expectSpecResponse('get', FLOW, 200, res.body);
      expect(res.body).toMatchObject({ task_names: ['receive', 'extract', 'review'], validation_errors: [] });
      const off = await t.http().get(`${FLOWS}/${flow.id}?include_ordered_task_names=off&include_validation_errors=F`).set(org.auth()).expect(200);
      expect(off.body).toMatchObject({ task_names: null, validation_errors: null });
      const bad = await t.http().get(`${FLOWS}/${flow.id}?include_ordered_task_names=maybe`).set(org.auth());
      expectError('get', FLOW, bad, 422, 'validation_error');
      expect(bad.body.detail[0].loc).toEqual(['query', 'include_ordered_task_names']);
    });

    it('reports validation errors of a stored definition that is no longer valid', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const broken = definitionOf([{ name: 'a', parameters: { x: '{{ghost.y}}' } }]);
      await t.dataSource.query(`UPDATE flow_versions SET definition = $2 WHERE flow_id = $1`, [flow.id, JSON.stringify(broken)]);
      const res = await t.http().get(`${FLOWS}/${flow.id}?include_validation_errors=true`).set(org.auth()).expect(200);
      expectSpecResponse('get', FLOW, 200, res.body);
      expect(res.body.validation_errors).toEqual([
        { type: 'invalid_dsl', loc: ['flow_configs', 0, 'config', 'tasks', 0, 'parameters', 'x'], msg: "Reference to unknown task 'ghost'", input: null },
      ]);
    });
  });

  describe('PATCH /api/flows/{flow_id}', () => {
    it('changes only the fields given, and records who changed them', async () => {
      const org = await newOrg();
      const flow = await createFlow(org, { description: 'old', visibility: 'private', tags: ['a'] });
      const reviewView = randomUUID();
      const res = await t
        .http()
        .patch(`${FLOWS}/${flow.id}?include_ordered_task_names=true`)
        .set(org.auth('publisher'))
        .send({
          display_name: 'Renamed',
          status: 'published',
          settings: { reexecute_on_update: true, review_view_id: reviewView },
          tags: ['b', 'c'],
          version: 5,
          organization_id: randomUUID(),
        })
        .expect(200);
      expectSpecResponse('patch', FLOW, 200, res.body);
      expect(res.body).toEqual(
        flowShape(org, {
          id: flow.id,
          display_name: 'Renamed',
          description: 'old',
          status: 'published',
          settings: {
            ttl: { seconds: null },
            reexecute_on_update: true,
            review_view_id: reviewView,
            // Our extension of FlowSettings (docs/api.md#run-timeouts): every field, null where unset.
            timeouts: {
              execution_seconds: null,
              task_heartbeat_seconds: null,
              task_seconds: null,
              cancel_seconds: null,
              awaiting_input_seconds: null,
              tasks: {},
            },
          },
          tags: ['b', 'c'],
          modified_by: 'user-publisher',
          task_names: ['receive', 'extract', 'review'],
        }),
      );
      expect(res.body.updated_at > flow.updated_at).toBe(true);

      const cleared = await t
        .http()
        .patch(`${FLOWS}/${flow.id}`)
        .set(org.auth('backoffice'))
        .send({ display_name: null, status: null, tags: null, description: null, settings: null, visibility: null })
        .expect(200);
      expect(cleared.body).toMatchObject({ display_name: 'Renamed', status: 'published', tags: ['b', 'c'], description: null, settings: null });
      expect(cleared.body.modified_by).toBe('user-backoffice');

      const back = await t.http().patch(`${FLOWS}/${flow.id}`).set(org.auth()).send({ status: 'draft' }).expect(200);
      expect(back.body.status).toBe('draft');
      const unchanged = await t.http().patch(`${FLOWS}/${flow.id}`).set(org.auth()).send({}).expect(200);
      expect(unchanged.body).toEqual(back.body);
    });

    it('answers 400 for a status other than draft or published', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const res = await t.http().patch(`${FLOWS}/${flow.id}`).set(org.auth()).send({ status: 'archived', display_name: 'not applied' });
      expectError('patch', FLOW, res, 400, 'bad_request', "Invalid status 'archived': must be one of draft, published");
      const again = await t.http().get(`${FLOWS}/${flow.id}`).set(org.auth()).expect(200);
      expect(again.body).toMatchObject({ status: 'draft', display_name: 'Invoices' });
    });

    it.each([
      ['an empty display_name', { display_name: '' }, ['body', 'display_name']],
      ['a display_name that is not a string', { display_name: 5 }, ['body', 'display_name']],
      ['a status that is not a string', { status: 1 }, ['body', 'status']],
      ['a TTL over 30 days', { settings: { ttl: { seconds: 5097601 } } }, ['body', 'settings', 'ttl', 'seconds']],
      ['tags that are not strings', { tags: [1] }, ['body', 'tags']],
    ])('answers 422 for %s', async (_name, body, loc) => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const res = await t.http().patch(`${FLOWS}/${flow.id}`).set(org.auth()).send(body);
      expectError('patch', FLOW, res, 422, 'validation_error');
      expect(res.body.detail.map((d: { loc: unknown }) => d.loc)).toContainEqual(loc);
    });
  });

  describe('DELETE /api/flows/{flow_id}', () => {
    it('soft-deletes: 204, then 404 everywhere and gone from the list, while the row stays', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const res = await t.http().delete(`${FLOWS}/${flow.id}`).set(org.auth('publisher')).expect(204);
      expect(res.text).toBe('');
      expectError('delete', FLOW, await t.http().delete(`${FLOWS}/${flow.id}`).set(org.auth()), 404, 'not_found', 'Flow not found');
      expectError('get', FLOW, await t.http().get(`${FLOWS}/${flow.id}`).set(org.auth()), 404, 'not_found', 'Flow not found');
      const list = await t.http().get(FLOWS).set(org.auth()).expect(200);
      expect(list.body.total).toBe(0);
      const [row] = await t.dataSource.query(`SELECT deleted, modified_by FROM flows WHERE id = $1`, [flow.id]);
      expect(row).toEqual({ deleted: true, modified_by: 'user-publisher' });
    });
  });

  describe('PUT /api/flows/{flow_id}/definition', () => {
    it('stores a new version and returns it as the latest', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const tasks: TaskSpec[] = [{ name: 'in' }, { name: 'out', parameters: { v: '{{in.value}}' } }];
      const res = await t
        .http()
        .put(`${FLOWS}/${flow.id}/definition?include_ordered_task_names=true`)
        .set(org.auth('backoffice'))
        .send({ definition: definitionOf(tasks), display_name: 'ignored' })
        .expect(200);
      expectSpecResponse('put', DEFINITION, 200, res.body);
      expect(res.body).toEqual(
        flowShape(org, {
          id: flow.id,
          version: 2,
          definition: definitionOf(tasks),
          modified_by: 'user-backoffice',
          task_names: ['in', 'out'],
          updated_at: expect.stringMatching(ISO_UTC),
        }),
      );
    });

    it('gives concurrent updates distinct, consecutive versions', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => putDefinition(org, flow.id, [{ name: `task-${i}` }])));
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(responses.map((r) => r.body.version).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7]);

      const versions = await t.http().get(`${FLOWS}/${flow.id}/versions`).set(org.auth()).expect(200);
      expect(versions.body.map((v: { version: number }) => v.version)).toEqual([7, 6, 5, 4, 3, 2, 1]);
      const latest = await t.http().get(`${FLOWS}/${flow.id}`).set(org.auth()).expect(200);
      expect(latest.body.version).toBe(7);
      const winner = responses.find((r) => r.body.version === 7)!;
      expect(latest.body.definition).toEqual(winner.body.definition);
    });

    it('pages versions newest first by the after cursor and Link (docs/api.md#flows-and-versions)', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      for (let i = 0; i < 6; i++) expect((await putDefinition(org, flow.id, [{ name: `task-${i}` }])).status).toBe(200);
      const seen: number[][] = [];
      let path: string | null = `${FLOWS}/${flow.id}/versions?limit=3`;
      while (path && seen.length < 5) {
        const res: Response = await t.http().get(path).set(org.auth('app_user')).expect(200);
        seen.push(res.body.map((v: { version: number }) => v.version));
        path = res.headers.link ? /^<([^>]+)>; rel="next"$/.exec(res.headers.link)![1] : null;
      }
      expect(seen).toEqual([[7, 6, 5], [4, 3, 2], [1]]);
      const bad = await t.http().get(`${FLOWS}/${flow.id}/versions?limit=101`).set(org.auth());
      expectError('get', VERSIONS, bad, 422, 'validation_error');
    });

    it('ends a page of versions early past its byte budget, and the Link continues it', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      for (let i = 0; i < 5; i++) expect((await putDefinition(org, flow.id, [{ name: `task-${i}` }])).status).toBe(200);
      // About 1.3 MB of incompressible text in each stored definition: four of them pass the 4 MiB budget.
      await t.dataSource.query(
        `UPDATE flow_versions SET definition = jsonb_set(definition, '{pad}', to_jsonb((SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 40000) g)))
          WHERE flow_id = $1`,
        [flow.id],
      );
      const first = await t.http().get(`${FLOWS}/${flow.id}/versions`).set(org.auth()).expect(200);
      expect(first.body.length).toBeGreaterThanOrEqual(1);
      expect(first.body.length).toBeLessThan(6);
      const next = /^<([^>]+)>; rel="next"$/.exec(first.headers.link)![1];
      const rest = await t.http().get(next).set(org.auth()).expect(200);
      const all = [...first.body, ...rest.body].map((v: { version: number }) => v.version);
      expect(all.slice(0, first.body.length + rest.body.length)).toEqual([6, 5, 4, 3, 2, 1].slice(0, all.length));
    });

    it('ends a page of flows early past its byte budget; the Link continues it from an offset', async () => {
      const org = await newOrg();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await createFlow(org)).id);
      // About 1.3 MB of incompressible text in each stored definition: four of them pass the 4 MiB budget.
      await t.dataSource.query(
        `UPDATE flow_versions SET definition = jsonb_set(definition, '{pad}', to_jsonb((SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 40000) g)))
          WHERE flow_id = ANY($1::uuid[])`,
        [ids],
      );
      const first = await t.http().get(`${FLOWS}?page_size=20`).set(org.auth()).expect(200);
      expect(first.body.flows.length).toBeGreaterThanOrEqual(1);
      expect(first.body.flows.length).toBeLessThan(5);
      expect(first.body.total).toBe(5);
      const seen: string[] = first.body.flows.map((f: { id: string }) => f.id);
      let link: string | undefined = first.headers.link;
      for (let pages = 0; link && pages < 5; pages++) {
        const next: string = /^<([^>]+)>; rel="next"$/.exec(link)![1];
        expect(next).toMatch(new RegExp(`offset=${seen.length}`));
        const res: Response = await t.http().get(next).set(org.auth()).expect(200);
        seen.push(...res.body.flows.map((f: { id: string }) => f.id));
        link = res.headers.link;
      }
      expect(seen).toEqual([...ids].reverse());
    });

    it('refuses a published flow with 400 and keeps its versions', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      await t.http().patch(`${FLOWS}/${flow.id}`).set(org.auth()).send({ status: 'published' }).expect(200);
      const res = await putDefinition(org, flow.id);
      expectError('put', DEFINITION, res, 400, 'bad_request', "Only a flow in draft status can change its definition; this flow is 'published'");
      const versions = await t.http().get(`${FLOWS}/${flow.id}/versions`).set(org.auth()).expect(200);
      expect(versions.body).toHaveLength(1);
    });

    it.each([
      ['no tasks at all', { flow: {}, flow_configs: [{ config: { tasks: [] } }] }, ['flow_configs: The flow must contain at least one task']],
      ['a duplicate task name', definitionOf([{ name: 'x' }, { name: 'x' }]), ["flow_configs.0.config.tasks.1.name: Duplicate task name 'x'"]],
      [
        'an unknown reference',
        definitionOf([{ name: 'x', parameters: { list: ['{{y.z}}'] } }]),
        ["flow_configs.0.config.tasks.0.parameters.list.0: Reference to unknown task 'y'"],
      ],
      [
        'a cycle through one task',
        definitionOf([{ name: 'x', parameters: { me: '{{x.out}}' } }]),
        ["flow_configs.0.config.tasks.0: Circular dependency: task 'x' references itself"],
      ],
      [
        'an input schema that does not compile',
        definitionOf([{ name: 'x', parameters: { input_schema: { required: 'email' } } }]),
        ['flow_configs.0.config.tasks.0.parameters.input_schema: Invalid JSON Schema: schema is invalid: data/required must be array'],
      ],
    ])('answers 400 invalid_dsl_input for %s and adds no version', async (_name, definition, details) => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const res = await t.http().put(`${FLOWS}/${flow.id}/definition`).set(org.auth()).send({ definition });
      expectError('put', DEFINITION, res, 400, 'invalid_dsl_input', 'Invalid DSL input');
      expect(res.body.error.details).toEqual(details);
      const latest = await t.http().get(`${FLOWS}/${flow.id}`).set(org.auth()).expect(200);
      expect(latest.body.version).toBe(1);
    });

    it('answers 422 for a missing or non-object definition', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      for (const body of [{}, { definition: 'x' }]) {
        const res = await t.http().put(`${FLOWS}/${flow.id}/definition`).set(org.auth()).send(body);
        expectError('put', DEFINITION, res, 422, 'validation_error');
        expect(res.body.detail[0].loc).toEqual(['body', 'definition']);
      }
    });
  });

  describe('versions', () => {
    it('lists every version newest first, with the version’s own timestamps and author', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const v2 = await t
        .http()
        .put(`${FLOWS}/${flow.id}/definition`)
        .set(org.auth('publisher'))
        .send({ definition: definitionOf([{ name: 'solo' }]) })
        .expect(200);

      const res = await t.http().get(`${FLOWS}/${flow.id}/versions?include_ordered_task_names=true`).set(org.auth('worker')).expect(200);
      expectSpecResponse('get', VERSIONS, 200, res.body);
      expect(res.body).toEqual([
        flowShape(org, {
          id: flow.id,
          version: 2,
          is_latest: true,
          definition: definitionOf([{ name: 'solo' }]),
          modified_by: 'user-publisher',
          task_names: ['solo'],
          created_at: expect.stringMatching(ISO_UTC),
          updated_at: expect.stringMatching(ISO_UTC),
        }),
        flowShape(org, { id: flow.id, version: 1, is_latest: false, task_names: ['receive', 'extract', 'review'], created_at: flow.created_at }),
      ]);
      expect(res.body[0].created_at >= flow.created_at).toBe(true);
      expect(v2.body.created_at).toBe(flow.created_at);

      const bad = await t.http().get(`${FLOWS}/${flow.id}/versions?include_validation_errors=perhaps`).set(org.auth());
      expectError('get', VERSIONS, bad, 422, 'validation_error');
    });

    it('returns one version; 404 "Flow version not found" for a version it does not have; 422 for a non-integer', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      await putDefinition(org, flow.id, [{ name: 'solo' }]).expect(200);

      const v1 = await t.http().get(`${FLOWS}/${flow.id}/versions/1?include_validation_errors=true`).set(org.auth('integration')).expect(200);
      expectSpecResponse('get', VERSION, 200, v1.body);
      expect(v1.body).toEqual(flowShape(org, { id: flow.id, is_latest: false, validation_errors: [] }));
      const v2 = await t.http().get(`${FLOWS}/${flow.id}/versions/2`).set(org.auth()).expect(200);
      expect(v2.body).toMatchObject({ version: 2, is_latest: true, definition: definitionOf([{ name: 'solo' }]) });

      for (const version of ['3', '0', '-1', '99999999999']) {
        const res = await t.http().get(`${FLOWS}/${flow.id}/versions/${version}`).set(org.auth());
        expectError('get', VERSION, res, 404, 'not_found', 'Flow version not found');
      }
      for (const version of ['one', '1.5', '1e3']) {
        const res = await t.http().get(`${FLOWS}/${flow.id}/versions/${version}`).set(org.auth());
        expectError('get', VERSION, res, 422, 'validation_error');
        expect(res.body.detail[0]).toMatchObject({ loc: ['path', 'version'], input: version });
      }
    });

    it('names a version and marks it as a favourite, answering with its summary', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      await putDefinition(org, flow.id).expect(200);

      const res = await t.http().patch(`${FLOWS}/${flow.id}/versions/1`).set(org.auth('publisher')).send({ name: 'First cut', is_favourite: true }).expect(200);
      expectSpecResponse('patch', VERSION, 200, res.body);
      expect(res.body).toEqual({
        version: 1,
        created_at: expect.stringMatching(ISO_UTC),
        updated_at: expect.stringMatching(ISO_UTC),
        modified_by: 'user-publisher',
        is_latest: false,
        name: 'First cut',
        is_favourite: true,
      });
      expect(res.body.updated_at > res.body.created_at).toBe(true);

      const renamed = await t.http().patch(`${FLOWS}/${flow.id}/versions/2`).set(org.auth()).send({ name: 'Second' }).expect(200);
      expect(renamed.body).toMatchObject({ version: 2, is_latest: true, name: 'Second', is_favourite: false, modified_by: 'user-org_admin' });

      const cleared = await t.http().patch(`${FLOWS}/${flow.id}/versions/1`).set(org.auth()).send({ name: null, is_favourite: null }).expect(200);
      expect(cleared.body).toMatchObject({ name: null, is_favourite: true });
      const unfavoured = await t.http().patch(`${FLOWS}/${flow.id}/versions/1`).set(org.auth()).send({ is_favourite: false }).expect(200);
      expect(unfavoured.body).toMatchObject({ name: null, is_favourite: false });

      const latest = await t.http().get(`${FLOWS}/${flow.id}`).set(org.auth()).expect(200);
      expect(latest.body.version).toBe(2);
    });

    it('answers 404 for an unknown version and 422 for a bad version or body', async () => {
      const org = await newOrg();
      const flow = await createFlow(org);
      const unknown = await t.http().patch(`${FLOWS}/${flow.id}/versions/2`).set(org.auth()).send({ name: 'x' });
      expectError('patch', VERSION, unknown, 404, 'not_found', 'Flow version not found');
      const badVersion = await t.http().patch(`${FLOWS}/${flow.id}/versions/latest`).set(org.auth()).send({ name: 'x' });
      expectError('patch', VERSION, badVersion, 422, 'validation_error');
      expect(badVersion.body.detail[0].loc).toEqual(['path', 'version']);
      for (const body of [{ is_favourite: 'yes' }, { name: 5 }, { name: 'n'.repeat(256) }]) {
        const res = await t.http().patch(`${FLOWS}/${flow.id}/versions/1`).set(org.auth()).send(body);
        expectError('patch', VERSION, res, 422, 'validation_error');
        expect(res.body.detail[0].loc[0]).toBe('body');
      }
    });
  });
});
