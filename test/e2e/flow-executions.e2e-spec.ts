import { randomUUID } from 'node:crypto';
import { FlowExecutionsRepository } from '../../src/flow-executions/flow-executions.repository';
import { createExecution, createFlow, definitionOf, LINEAR_TASKS } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectSpecResponse } from '../utils/spec';
import { newOrg } from '../utils/tokens';

const ONE = '/api/flow-executions/{flow_execution_id}';
const LIST = '/api/flow-executions';

describe('flow executions: create, retrieve, list, delete', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  describe('POST /api/flow-executions', () => {
    it('creates a running execution pinned to the latest version, with the caller as modified_by', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      await t
        .http()
        .put(`/api/flows/${flowId}/definition`)
        .set(org.auth())
        .send({ definition: definitionOf(LINEAR_TASKS) })
        .expect(200);

      const res = await t
        .http()
        .post(LIST)
        .set(org.auth('app_user'))
        .send({
          flow_id: flowId,
          input: { file_key: 'documents/a.pdf', options: { language: 'en' } },
          organization_id: randomUUID(),
          status: 'completed',
          run_number: 99,
        });
      expect(res.status).toBe(201);
      expectSpecResponse('post', LIST, 201, res.body);
      expect(res.body).toMatchObject({
        flow_id: flowId,
        flow_version: 2,
        status: 'running',
        input: { file_key: 'documents/a.pdf', options: { language: 'en' } },
        organization_id: org.id,
        modified_by: 'user-app_user',
        total_credits: null,
        triggered_task_executor_name: null,
        pricing_config_id: null,
      });
      expect(res.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    });

    it('answers 404 for an unknown flow and 403 for another organization’s flow', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const foreignFlow = await createFlow(t, other.auth);
      const unknown = await t.http().post(LIST).set(org.auth()).send({ flow_id: randomUUID(), input: {} }).expect(404);
      expect(unknown.body.error).toMatchObject({ code: 'not_found', message: 'Flow not found' });
      const foreign = await t.http().post(LIST).set(org.auth()).send({ flow_id: foreignFlow, input: {} }).expect(403);
      expect(foreign.body.error.code).toBe('forbidden');
      expect(JSON.stringify(foreign.body)).not.toContain(foreignFlow);
    });

    it('follows the input_task_name rules of the spec', async () => {
      const org = await newOrg();
      const single = await createFlow(t, org.auth);
      await t.http().post(LIST).set(org.auth()).send({ flow_id: single, input: {}, input_task_name: 'receive' }).expect(201);
      const wrong = await t.http().post(LIST).set(org.auth()).send({ flow_id: single, input: {}, input_task_name: 'extract' }).expect(400);
      expect(wrong.body.error.code).toBe('bad_request');
      expect(wrong.body.error.message).toContain("'extract' is not an input task");

      const multi = await createFlow(t, org.auth, [
        { name: 'receive_email', task_executor_name: 'receive_email' },
        { name: 'receive_file', task_executor_name: 'receive_file' },
        { name: 'merge', task_executor_name: 'merge', parameters: { a: '{{receive_email.body}}', b: '{{receive_file.document_url}}' } },
      ]);
      const missing = await t.http().post(LIST).set(org.auth()).send({ flow_id: multi, input: {} }).expect(400);
      expect(missing.body.error.message).toContain('input_task_name is required');
      const chosen = await t.http().post(LIST).set(org.auth()).send({ flow_id: multi, input: {}, input_task_name: 'receive_email' }).expect(201);
      expect(chosen.body.triggered_task_executor_name).toBe('receive_email');
    });

    it("validates input against the input task's JSON Schema and creates nothing when it fails", async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth, [
        {
          name: 'receive',
          parameters: {
            input_schema: { type: 'object', required: ['file_key'], properties: { file_key: { type: 'string', minLength: 3 }, pages: { type: 'integer' } } },
          },
        },
      ]);
      const bad = await t
        .http()
        .post(LIST)
        .set(org.auth())
        .send({ flow_id: flowId, input: { pages: 'many' } })
        .expect(400);
      expect(bad.body.error.code).toBe('bad_request');
      expect(bad.body.error.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ loc: ['body', 'input', 'file_key'], type: 'required' }),
          expect.objectContaining({ loc: ['body', 'input', 'pages'], type: 'type' }),
        ]),
      );
      const listed = await t.http().get(LIST).query({ flow_id: flowId }).set(org.auth()).expect(200);
      expect(listed.body).toEqual([]);
      await t
        .http()
        .post(LIST)
        .set(org.auth())
        .send({ flow_id: flowId, input: { file_key: 'abc.pdf', pages: 3 } })
        .expect(201);
    });

    it('answers 422 with both error shapes for a bad body', async () => {
      const org = await newOrg();
      const res = await t.http().post(LIST).set(org.auth()).send({ flow_id: 'nope', input: 'text' }).expect(422);
      expectSpecResponse('post', LIST, 422, res.body);
      expect(res.body.error).toMatchObject({ code: 'validation_error', message: 'Request validation failed' });
      expect(res.body.detail).toEqual(res.body.error.details);
      const locs = res.body.detail.map((d: { loc: string[] }) => d.loc.join('.'));
      expect(locs).toEqual(expect.arrayContaining(['body.flow_id', 'body.input']));
      const missing = await t.http().post(LIST).set(org.auth()).send({}).expect(422);
      expect(missing.body.detail.map((d: { loc: string[] }) => d.loc.join('.'))).toEqual(expect.arrayContaining(['body.flow_id', 'body.input']));
    });

    it('refuses workers (403) and anonymous callers (401)', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const res = await t.http().post(LIST).set(org.auth('worker')).send({ flow_id: flowId, input: {} }).expect(403);
      expect(res.body.error.code).toBe('forbidden');
      await t.http().post(LIST).send({ flow_id: flowId, input: {} }).expect(401);
    });
  });

  describe('run numbers', () => {
    it('gives 50 concurrent creates on one flow exactly 1..50 in creation order', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const created = await Promise.all(Array.from({ length: 50 }, () => createExecution(t, org.auth, flowId)));
      expect(new Set(created.map((c) => c.id)).size).toBe(50);

      const page = await t
        .http()
        .get(LIST)
        .query({ flow_id: flowId, include_run_number: true, sort_direction: 'asc', page_size: 100 })
        .set(org.auth())
        .expect(200);
      expect(page.body.map((e: { run_number: number }) => e.run_number)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const times = page.body.map((e: { created_at: string }) => Date.parse(e.created_at));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
    });

    it('is null unless asked for, survives deletes, and never changes', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const [a, b, c] = [await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId)];
      expect(a.run_number).toBeNull();
      await t.http().delete(`${LIST}/${b.id}`).set(org.auth()).expect(204);
      const d = await createExecution(t, org.auth, flowId);

      const plain = await t.http().get(`${LIST}/${c.id}`).set(org.auth()).expect(200);
      expect(plain.body.run_number).toBeNull();
      for (const [execution, number] of [
        [a, 1],
        [c, 3],
        [d, 4],
      ] as const) {
        const res = await t.http().get(`${LIST}/${execution.id}`).query({ include_run_number: 'yes' }).set(org.auth()).expect(200);
        expect(res.body.run_number).toBe(number);
        expectSpecResponse('get', ONE, 200, res.body);
      }
    });
  });

  describe('GET /api/flow-executions/{id}', () => {
    it('returns every field of the spec', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const created = await createExecution(t, org.auth, flowId, { file_key: 'x.pdf' });
      const res = await t
        .http()
        .get(`${LIST}/${created.id}`)
        .query({ include_run_number: 'true', include_credits: 'true' })
        .set(org.auth('worker'))
        .expect(200);
      expectSpecResponse('get', ONE, 200, res.body);
      expect(Object.keys(res.body).sort()).toEqual(
        [
          'created_at',
          'flow_id',
          'flow_version',
          'id',
          'input',
          'modified_by',
          'organization_id',
          'pricing_config_id',
          // An extension field (docs/api.md#redrive).
          'redrive_count',
          'run_number',
          'status',
          'total_credits',
          'triggered_task_executor_name',
          'updated_at',
        ].sort(),
      );
      expect(res.body).toMatchObject({ id: created.id, run_number: 1, total_credits: null, input: { file_key: 'x.pdf' } });
    });

    it.each(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', 't', 'f', 'y', 'n', 'TRUE', 'Off'])('accepts the boolean word %s', async (word) => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const created = await createExecution(t, org.auth, flowId);
      const res = await t.http().get(`${LIST}/${created.id}`).query({ include_run_number: word }).set(org.auth()).expect(200);
      expect(res.body.run_number).toBe(['true', '1', 'yes', 'on', 't', 'y', 'TRUE'].includes(word) ? 1 : null);
    });

    it('answers 422 for a bad boolean, 400 for a malformed id, 404 for unknown, 403 for another organization, 401 without credentials', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const flowId = await createFlow(t, other.auth);
      const foreign = await createExecution(t, other.auth, flowId, { secret: 'other-org-data' });

      const bad = await t.http().get(`${LIST}/${foreign.id}`).query({ include_run_number: 'maybe' }).set(other.auth()).expect(422);
      expect(bad.body.detail[0]).toMatchObject({ loc: ['query', 'include_run_number'], input: 'maybe' });
      expectSpecResponse('get', ONE, 422, bad.body);

      const malformed = await t.http().get(`${LIST}/not-a-uuid`).set(org.auth()).expect(400);
      expect(malformed.body.error).toMatchObject({ code: 'bad_request', message: 'Invalid execution ID format' });
      expectSpecResponse('get', ONE, 400, malformed.body);

      const unknown = await t.http().get(`${LIST}/${randomUUID()}`).set(org.auth()).expect(404);
      expect(unknown.body.error).toMatchObject({ code: 'not_found', message: 'Flow execution not found' });
      expectSpecResponse('get', ONE, 404, unknown.body);

      const forbidden = await t.http().get(`${LIST}/${foreign.id}`).set(org.auth()).expect(403);
      expect(forbidden.body.error.code).toBe('forbidden');
      expect(JSON.stringify(forbidden.body)).not.toMatch(/other-org-data|${flowId}/);
      expectSpecResponse('get', ONE, 403, forbidden.body);

      await t.http().get(`${LIST}/${foreign.id}`).expect(401);
    });
  });

  describe('DELETE /api/flow-executions/{id}', () => {
    it('soft deletes: 204, then 404 everywhere, 204 again, hidden from lists', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      await t.http().delete(`${LIST}/${e.id}`).set(org.auth('integration')).expect(204);
      await t.http().get(`${LIST}/${e.id}`).set(org.auth()).expect(404);
      await t.http().post(`${LIST}/${e.id}/cancel`).set(org.auth()).expect(404);
      await t.http().delete(`${LIST}/${e.id}`).set(org.auth()).expect(204);
      const list = await t.http().get(LIST).query({ flow_id: flowId }).set(org.auth()).expect(200);
      expect(list.body).toEqual([]);
      const row = await t.dataSource.query('SELECT status, input FROM flow_executions WHERE id = $1', [e.id]);
      expect(row[0]).toEqual({ status: 'deleted', input: { file_key: 'a.pdf' } });
    });

    it('refuses another organization (403, nothing deleted), workers (403), malformed (400) and unknown ids (404)', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const flowId = await createFlow(t, other.auth);
      const e = await createExecution(t, other.auth, flowId);
      await t.http().delete(`${LIST}/${e.id}`).set(org.auth()).expect(403);
      await t.http().delete(`${LIST}/${e.id}`).set(other.auth('worker')).expect(403);
      await t.http().get(`${LIST}/${e.id}`).set(other.auth()).expect(200);
      await t.http().delete(`${LIST}/xyz`).set(org.auth()).expect(400);
      await t.http().delete(`${LIST}/${randomUUID()}`).set(org.auth()).expect(404);
      await t.http().delete(`${LIST}/${e.id}`).expect(401);
    });
  });

  describe('GET /api/flow-executions (list)', () => {
    it('pages newest first by default, 10 a page, with a Link to the next page by cursor', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push((await createExecution(t, org.auth, flowId, { i })).id);

      const first = await t.http().get(LIST).query({ flow_id: flowId }).set(org.auth()).expect(200);
      expectSpecResponse('get', LIST, 200, first.body);
      expect(first.body.map((e: { id: string }) => e.id)).toEqual(ids.slice().reverse().slice(0, 10));
      const link = first.headers.link as string;
      expect(link).toMatch(/^<\/api\/flow-executions\?.*start_from_execution_id=[0-9a-f-]{36}.*>; rel="next"$/);

      const next = await t
        .http()
        .get(link.slice(1, link.indexOf('>')))
        .set(org.auth())
        .expect(200);
      expect(next.body.map((e: { id: string }) => e.id)).toEqual([ids[1], ids[0]]);
      expect(next.headers.link).toBeUndefined();

      const page2 = await t.http().get(LIST).query({ flow_id: flowId, page: 2 }).set(org.auth()).expect(200);
      expect(page2.body.map((e: { id: string }) => e.id)).toEqual([ids[1], ids[0]]);
    });

    it('walks every execution exactly once, in both orders, when many share a timestamp', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const created = await Promise.all(Array.from({ length: 30 }, (_, i) => createExecution(t, org.auth, flowId, { i })));
      // Force identical timestamps: ties must break by id.
      await t.dataSource.query(`UPDATE flow_executions SET created_at = '2026-01-01T00:00:00Z', updated_at = '2026-01-01T00:00:00Z' WHERE flow_id = $1`, [
        flowId,
      ]);

      for (const sort_direction of ['asc', 'desc']) {
        for (const sort_field of ['created_at', 'updated_at']) {
          const seen: string[] = [];
          let cursor: string | undefined;
          for (;;) {
            const res = await t
              .http()
              .get(LIST)
              .query({ flow_id: flowId, page_size: 7, sort_field, sort_direction, ...(cursor ? { start_from_execution_id: cursor } : {}) })
              .set(org.auth())
              .expect(200);
            seen.push(...res.body.map((e: { id: string }) => e.id));
            if (!res.headers.link) break;
            cursor = res.body[res.body.length - 1].id;
          }
          expect(seen).toHaveLength(30);
          expect(new Set(seen)).toEqual(new Set(created.map((c) => c.id)));

          const byPage: string[] = [];
          for (let page = 1; page <= 5; page++) {
            const res = await t.http().get(LIST).query({ flow_id: flowId, page_size: 7, page, sort_field, sort_direction }).set(org.auth()).expect(200);
            byPage.push(...res.body.map((e: { id: string }) => e.id));
          }
          expect(byPage).toEqual(seen);
        }
      }
    });

    it('filters by status, status_exclude and inclusive created/updated ranges', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const [a, b, c] = [await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId)];
      await t.http().patch(`${LIST}/${a.id}/status`).query({ status: 'completed' }).set(org.auth('worker')).expect(200);
      await t.http().patch(`${LIST}/${b.id}/status`).query({ status: 'failed' }).set(org.auth('worker')).expect(200);

      const ids = async (query: Record<string, unknown>) =>
        (
          await t
            .http()
            .get(LIST)
            .query({ flow_id: flowId, sort_direction: 'asc', ...query })
            .set(org.auth())
            .expect(200)
        ).body.map((e: { id: string }) => e.id);
      expect(await ids({ status: 'completed' })).toEqual([a.id]);
      expect(await ids({ status: ['completed', 'failed'] })).toEqual([a.id, b.id]);
      expect(await ids({ status_exclude: 'running' })).toEqual([a.id, b.id]);
      expect(await ids({ status: ['completed', 'failed'], status_exclude: 'failed' })).toEqual([a.id]);
      expect(await ids({ created_after: b.created_at })).toEqual([b.id, c.id]);
      expect(await ids({ created_before: b.created_at })).toEqual([a.id, b.id]);
      expect(await ids({ created_after: b.created_at, created_before: b.created_at })).toEqual([b.id]);
      const cAgain = await t.http().get(`${LIST}/${c.id}`).set(org.auth()).expect(200);
      expect(await ids({ updated_after: cAgain.body.updated_at })).toContain(c.id);
      expect(await ids({ updated_before: '2000-01-01T00:00:00Z' })).toEqual([]);
    });

    it('filters by flow versions and an inclusive run-number range (the selection)', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const [r1, r2] = [await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId)];
      await t
        .http()
        .put(`/api/flows/${flowId}/definition`)
        .set(org.auth())
        .send({ definition: definitionOf(LINEAR_TASKS) })
        .expect(200);
      const [r3, r4] = [await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId)];
      const ids = async (query: Record<string, unknown>) =>
        (
          await t
            .http()
            .get(LIST)
            .query({ flow_id: flowId, sort_direction: 'asc', ...query })
            .set(org.auth())
            .expect(200)
        ).body.map((e: { id: string }) => e.id);
      expect(await ids({ flow_version: 2 })).toEqual([r3.id, r4.id]);
      expect(await ids({ flow_version: [1, 2] })).toEqual([r1.id, r2.id, r3.id, r4.id]);
      expect(await ids({ run_number_min: 2, run_number_max: 3 })).toEqual([r2.id, r3.id]);
      expect(await ids({ run_number_min: 4 })).toEqual([r4.id]);
      expect(await ids({ flow_version: 1, run_number_max: 1 })).toEqual([r1.id]);
      for (const [query, field] of [
        [{ flow_version: 0 }, 'flow_version'],
        [{ flow_version: 'x' }, 'flow_version'],
        [{ run_number_min: 0 }, 'run_number_min'],
        [{ run_number_max: '2.5' }, 'run_number_max'],
      ] as const) {
        const res = await t
          .http()
          .get(LIST)
          .query({ flow_id: flowId, ...query })
          .set(org.auth())
          .expect(422);
        expect(res.body.detail.map((d: { loc: string[] }) => d.loc.join('.'))).toContain(`query.${field}`);
      }
    });

    it('includes run numbers and credits for the whole page on request', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      for (let i = 0; i < 3; i++) await createExecution(t, org.auth, flowId);
      const res = await t.http().get(LIST).query({ flow_id: flowId, include_run_number: 1, include_credits: 1 }).set(org.auth()).expect(200);
      expect(res.body.map((e: { run_number: number }) => e.run_number)).toEqual([3, 2, 1]);
      expect(res.body.every((e: { total_credits: null }) => e.total_credits === null)).toBe(true);
    });

    it('sends each run byte for byte as the retrieve endpoint does, for every include, with strings that need escaping', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const inputs = [
        { file_key: 'a.pdf' },
        { text: 'quote " backslash \\ tab \t line\n \u0001 é 😀 \u2028', n: [1.5, -0, 1e21, 2 ** 60], deep: { a: [{}, [], null, true] } },
        {},
      ];
      const ids: string[] = [];
      for (const input of inputs) ids.push((await createExecution(t, org.auth, flowId, input)).id);
      // What the API never writes so: every column a body carries, with characters JSON must escape.
      await t.dataSource.query(
        `UPDATE flow_executions SET modified_by = $2, triggered_task_executor_name = $3, pricing_config_id = $4, redrive_count = 2 WHERE id = $1`,
        [ids[1], 'we"ird\\ \u0007 \u001f \u007f ü 😀 \u2028', 'executor "x"\n', randomUUID()],
      );
      await t.dataSource.query(
        `INSERT INTO task_executions (organization_id, flow_execution_id, task_name, task_execution_idx, processing_status, credits, modified_by)
         VALUES ($1, $2, 'a', 0, 'completed', 7, 'w'), ($1, $2, 'b', 0, 'completed', 5, 'w')`,
        [org.id, ids[1]],
      );
      for (const query of [{}, { include_run_number: true }, { include_credits: true }, { include_run_number: true, include_credits: true }]) {
        const list = await t
          .http()
          .get(LIST)
          .query({ flow_id: flowId, ...query })
          .set(org.auth())
          .expect(200);
        const one = await Promise.all(ids.map((id) => t.http().get(`/api/flow-executions/${id}`).query(query).set(org.auth()).expect(200)));
        expect(list.text).toBe(
          `[${one
            .map((r) => r.text)
            .reverse()
            .join(',')}]`,
        );
        expect(list.headers['content-type']).toBe(one[0].headers['content-type']);
      }
      // The process gets the page from PostgreSQL as the bytes it sends: no row of fields is parsed, no object serialized, no text decoded.
      const page = await t.app.get(FlowExecutionsRepository).list({
        flowId,
        organizationId: org.id,
        sortField: 'created_at',
        sortDirection: 'asc',
        offset: 0,
        limit: 10,
        withCredits: true,
        withRunNumber: true,
      });
      expect(page.flow === 'ok' && page.page).toEqual({ body: expect.any(Array), count: ids.length, lastId: ids[ids.length - 1] });
      expect(page.flow === 'ok' && (JSON.parse(Buffer.concat(page.page.body).toString()) as { id: string }[]).map((run) => run.id)).toEqual(ids);
    });

    it('answers 422 for every bad parameter, with its location', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const cases: [Record<string, unknown>, string][] = [
        [{}, 'flow_id'],
        [{ flow_id: 'nope' }, 'flow_id'],
        [{ flow_id: flowId, page: 0 }, 'page'],
        [{ flow_id: flowId, page: 10001 }, 'page'],
        [{ flow_id: flowId, page: 'one' }, 'page'],
        [{ flow_id: flowId, page_size: 0 }, 'page_size'],
        [{ flow_id: flowId, page_size: 1001 }, 'page_size'],
        [{ flow_id: flowId, sort_field: 'id' }, 'sort_field'],
        [{ flow_id: flowId, sort_direction: 'up' }, 'sort_direction'],
        [{ flow_id: flowId, status: 'done' }, 'status'],
        [{ flow_id: flowId, status_exclude: 'done' }, 'status_exclude'],
        [{ flow_id: flowId, include_credits: 'maybe' }, 'include_credits'],
        [{ flow_id: flowId, created_after: 'yesterday' }, 'created_after'],
        [{ flow_id: flowId, updated_before: '2026-13-01' }, 'updated_before'],
        [{ flow_id: flowId, start_from_execution_id: '123' }, 'start_from_execution_id'],
        [{ flow_id: flowId, tags: 'novalue' }, 'tags'],
      ];
      for (const [query, field] of cases) {
        const res = await t.http().get(LIST).query(query).set(org.auth()).expect(422);
        expect(res.body.detail.map((d: { loc: string[] }) => d.loc.join('.'))).toContain(`query.${field}`);
      }
    });

    it('answers 404 for an unknown or deleted flow, 403 for another organization, 400 for a cursor of another flow', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const foreignFlow = await createFlow(t, other.auth);
      await createExecution(t, other.auth, foreignFlow);
      const flowId = await createFlow(t, org.auth);
      const otherFlow = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, otherFlow);

      await t.http().get(LIST).query({ flow_id: randomUUID() }).set(org.auth()).expect(404);
      const forbidden = await t.http().get(LIST).query({ flow_id: foreignFlow }).set(org.auth()).expect(403);
      expect(forbidden.body.error.code).toBe('forbidden');
      const cursor = await t.http().get(LIST).query({ flow_id: flowId, start_from_execution_id: e.id }).set(org.auth()).expect(400);
      expect(cursor.body.error.message).toContain('start_from_execution_id');
      await t.http().delete(`/api/flows/${otherFlow}`).set(org.auth()).expect(204);
      await t.http().get(LIST).query({ flow_id: otherFlow }).set(org.auth()).expect(404);
      await t.http().get(LIST).query({ flow_id: flowId }).expect(401);
    });
  });
});

describe('conditional GET of a flow execution', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('sends a strong ETag and answers If-None-Match with 304 and no body', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await createExecution(t, org.auth, flowId);
    const first = await t.http().get(`${LIST}/${e.id}`).set(org.auth()).expect(200);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(first.headers['cache-control']).toBe('private, no-cache');

    const cached = await t.http().get(`${LIST}/${e.id}`).set(org.auth()).set('If-None-Match', etag).expect(304);
    expect(cached.text).toBeFalsy();
    expect(cached.headers.etag).toBe(etag);
    await t.http().get(`${LIST}/${e.id}`).set(org.auth()).set('If-None-Match', `"other", W/${etag}`).expect(304);

    const withRunNumber = await t.http().get(`${LIST}/${e.id}`).query({ include_run_number: true }).set(org.auth()).set('If-None-Match', etag).expect(200);
    expect(withRunNumber.headers.etag).not.toBe(etag);
  });

  it('changes the ETag on a status change, and answers 404 once deleted', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await createExecution(t, org.auth, flowId);
    const etag = (await t.http().get(`${LIST}/${e.id}`).set(org.auth()).expect(200)).headers.etag;
    await t.http().patch(`${LIST}/${e.id}/status`).query({ status: 'completed' }).set(org.auth('worker')).expect(200);
    const changed = await t.http().get(`${LIST}/${e.id}`).set(org.auth()).set('If-None-Match', etag).expect(200);
    expect(changed.body.status).toBe('completed');
    expect(changed.headers.etag).not.toBe(etag);
    await t.http().delete(`${LIST}/${e.id}`).set(org.auth()).expect(204);
    await t.http().get(`${LIST}/${e.id}`).set(org.auth()).set('If-None-Match', changed.headers.etag).expect(404);
  });

  it('never answers 304 across organizations', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const e = await createExecution(t, org.auth, flowId);
    await t.http().get(`${LIST}/${e.id}`).set(other.auth()).set('If-None-Match', '*').expect(403);
  });
});
