import { randomUUID } from 'node:crypto';
import { createExecution, LINEAR_TASKS, orgWithExecution } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { expectSpecResponse } from '../utils/spec';
import { newOrg } from '../utils/tokens';

const TAGS = '/api/task-tags';
const FLOW_TAGS = '/api/flows/{flow_id}/tags';
type Org = Awaited<ReturnType<typeof newOrg>>;
type Role = NonNullable<Parameters<Org['auth']>[0]>;
type Item = { operation: 'add' | 'remove'; flow_execution_id: string; task_name: string; tag_type: string; tag: string; tag_metadata?: unknown };

const ROLES: Role[] = ['org_admin', 'app_user', 'integration', 'publisher', 'worker', 'backoffice'];

describe('task tags', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  async function setup() {
    return orgWithExecution(t, LINEAR_TASKS);
  }

  const patch = (org: Org, tags: unknown, role: Role = 'app_user') => t.http().patch(TAGS).set(org.auth(role)).send({ tags });
  const list = (org: Org, query: Record<string, string>, role: Role = 'integration') => t.http().get(TAGS).query(query).set(org.auth(role));
  const flowTags = (org: Org, flowId: string, query: Record<string, string> = {}, role: Role = 'integration') =>
    t.http().get(`/api/flows/${flowId}/tags`).query(query).set(org.auth(role));
  const add = (id: string, task_name: string, tag_type: string, tag: string, tag_metadata?: unknown): Item => ({
    operation: 'add',
    flow_execution_id: id,
    task_name,
    tag_type,
    tag,
    ...(tag_metadata === undefined ? {} : { tag_metadata }),
  });
  const remove = (id: string, task_name: string, tag_type: string, tag: string): Item => ({
    operation: 'remove',
    flow_execution_id: id,
    task_name,
    tag_type,
    tag,
  });
  const statuses = (res: { body: { tags: { status: string }[] } }) => res.body.tags.map((r) => r.status);
  const labels = async (org: Org, id: string, task?: string) =>
    (await list(org, { flow_execution_id: id, ...(task ? { task_name: task } : {}) }).expect(200)).body.map(
      (g: { task_name: string; tag_type: string; tag: string }) => `${g.task_name}/${g.tag_type}:${g.tag}`,
    );
  const rows = async (id: string) =>
    t.dataSource.query(
      `SELECT task_name, tag_type, tag, status, tag_metadata, modified_by FROM task_execution_tags WHERE flow_execution_id = $1 ORDER BY created_at, id`,
      [id],
    );

  describe('PATCH /api/task-tags', () => {
    it('applies a mixed batch and answers one result per operation, in request order', async () => {
      const { org, id } = await setup();
      const res = await patch(org, [
        add(id, 'extract', 'review_status', 'reviewed', { reviewer: 'a@example.com' }),
        add(id, 'extract', 'priority', 'high'),
        remove(id, 'extract', 'review_status', 'pending'),
        add(id, 'review', 'quality', 'flagged', [1, 'two']),
      ]).expect(200);
      expectSpecResponse('patch', TAGS, 200, res.body);
      expect(statuses(res)).toEqual(['added', 'added', 'not_found', 'added']);

      const listed = await list(org, { flow_execution_id: id }).expect(200);
      expectSpecResponse('get', TAGS, 200, listed.body);
      expect(listed.body).toEqual([
        expect.objectContaining({
          task_name: 'extract',
          tag_type: 'review_status',
          tag: 'reviewed',
          tag_metadata: { reviewer: 'a@example.com' },
          status: 'active',
          modified_by: 'user-app_user',
          organization_id: org.id,
          flow_execution_id: id,
        }),
        expect.objectContaining({ task_name: 'extract', tag_type: 'priority', tag: 'high', tag_metadata: null }),
        expect.objectContaining({ task_name: 'review', tag_type: 'quality', tag: 'flagged', tag_metadata: [1, 'two'] }),
      ]);
      expect(await labels(org, id, 'review')).toEqual(['review/quality:flagged']);
    });

    it('is idempotent: already_exists keeps the metadata, removal is a soft delete, adding again revives', async () => {
      const { org, id } = await setup();
      await patch(org, [add(id, 'extract', 'review', 'ok', { by: 'first' })]).expect(200);
      const again = await patch(org, [add(id, 'extract', 'review', 'ok', { by: 'second' })]).expect(200);
      expect(statuses(again)).toEqual(['already_exists']);
      expect((await list(org, { flow_execution_id: id }).expect(200)).body[0].tag_metadata).toEqual({ by: 'first' });

      const removed = await patch(org, [remove(id, 'extract', 'review', 'ok')], 'worker').expect(200);
      expect(statuses(removed)).toEqual(['removed']);
      expect(await labels(org, id)).toEqual([]);
      expect(await rows(id)).toEqual([expect.objectContaining({ status: 'deleted', tag_metadata: { by: 'first' }, modified_by: 'user-worker' })]);
      expect(statuses(await patch(org, [remove(id, 'extract', 'review', 'ok')]).expect(200))).toEqual(['not_found']);

      expect(statuses(await patch(org, [add(id, 'extract', 'review', 'ok', { by: 'third' })]).expect(200))).toEqual(['added']);
      expect((await list(org, { flow_execution_id: id }).expect(200)).body[0].tag_metadata).toEqual({ by: 'third' });
      expect(await rows(id)).toHaveLength(1);
    });

    it('applies repeats of one tag in order', async () => {
      const { org, id } = await setup();
      const x = ['extract', 'k', 'v'] as const;
      const res = await patch(org, [add(id, ...x), add(id, ...x), remove(id, ...x), remove(id, ...x), add(id, ...x), add(id, 'extract', 'k', 'w')]).expect(200);
      expect(statuses(res)).toEqual(['added', 'already_exists', 'removed', 'not_found', 'added', 'added']);
      expect(await labels(org, id)).toEqual(['extract/k:v', 'extract/k:w']);
    });

    it('changes show at once in the executions list’s tag filters', async () => {
      const { org, flowId, id } = await setup();
      const other = (await createExecution(t, org.auth, flowId)).id;
      const ids = async (query: Record<string, string>) =>
        (
          await t
            .http()
            .get('/api/flow-executions')
            .query({ flow_id: flowId, ...query })
            .set(org.auth())
            .expect(200)
        ).body.map((e: { id: string }) => e.id);
      await patch(org, [add(id, 'review', 'review_status', 'approved')]).expect(200);
      expect(await ids({ tags: 'review_status:approved' })).toEqual([id]);
      expect(await ids({ tags_exclude: 'review_status:approved' })).toEqual([other]);
      await patch(org, [remove(id, 'review', 'review_status', 'approved')]).expect(200);
      expect(await ids({ tags: 'review_status:approved' })).toEqual([]);
    });

    it('the feed shows each task whose tags changed as task_execution.updated, with its tags', async () => {
      const { org, id } = await setup();
      await t
        .http()
        .post('/api/task-executions')
        .set(org.auth('worker'))
        .send({ flow_execution_id: id, task_name: 'extract', task_execution_idx: 0, processing_status: 'running' })
        .expect(201);
      const feed = async () =>
        (await t.http().get('/api/flow-executions/events').set(org.auth()).expect(200)).body.events as {
          type: string;
          flow_execution: { id: string };
          task_execution?: { task_name: string; tags: { tag_type: string; tag: string }[] };
        }[];
      const before = (await feed()).length;
      // extract has run (an event); review has not (no task execution to show); the no-op records nothing.
      await patch(org, [add(id, 'extract', 'k', 'v'), add(id, 'extract', 'k', 'w'), add(id, 'review', 'k', 'v')]).expect(200);
      await patch(org, [add(id, 'extract', 'k', 'v')]).expect(200);
      await patch(org, [remove(id, 'extract', 'k', 'w')]).expect(200);
      const events = (await feed()).slice(before);
      expect(events.map((e) => [e.type, e.flow_execution.id, e.task_execution?.task_name])).toEqual([
        ['task_execution.updated', id, 'extract'],
        ['task_execution.updated', id, 'extract'],
      ]);
      expect(events.map((e) => e.task_execution!.tags.map((g) => `${g.tag_type}:${g.tag}`))).toEqual([['k:v', 'k:w'], ['k:v']]);
    });

    it('403 for a batch with any item of another organization, and nothing applied', async () => {
      const mine = await setup();
      const theirs = await setup();
      await patch(theirs.org, [add(theirs.id, 'extract', 'secret', 'x')]).expect(200);
      const res = await patch(mine.org, [add(mine.id, 'extract', 'k', 'v'), remove(theirs.id, 'extract', 'secret', 'x')]).expect(403);
      expectSpecResponse('patch', TAGS, 404, res.body);
      expectEnvelope(res, 403, 'forbidden');
      expect(JSON.stringify(res.body)).not.toContain(theirs.id);
      expect(await rows(mine.id)).toEqual([]);
      expect(await labels(theirs.org, theirs.id)).toEqual(['extract/secret:x']);
    });

    it('404 for a missing or deleted execution, 400 for a task the version lacks; nothing applied', async () => {
      const { org, flowId, id } = await setup();
      const missing = await patch(org, [add(id, 'extract', 'k', 'v'), add(randomUUID(), 'extract', 'k', 'v')]).expect(404);
      expectSpecResponse('patch', TAGS, 404, missing.body);
      expect(missing.body.error).toMatchObject({ code: 'not_found', message: 'Flow execution not found' });

      const deleted = (await createExecution(t, org.auth, flowId)).id;
      await t.http().delete(`/api/flow-executions/${deleted}`).set(org.auth()).expect(204);
      await patch(org, [add(id, 'extract', 'k', 'v'), add(deleted, 'extract', 'k', 'v')]).expect(404);

      const unknown = await patch(org, [add(id, 'extract', 'k', 'v'), add(id, 'nope', 'k', 'v')]).expect(400);
      expectSpecResponse('patch', TAGS, 400, unknown.body);
      expect(unknown.body.error.details).toEqual(["tags.1.task_name: unknown task 'nope'"]);
      expect(await rows(id)).toEqual([]);
    });

    it('422 for a malformed batch', async () => {
      const { org, id } = await setup();
      const ok = add(id, 'extract', 'k', 'v');
      const cases: [unknown, string][] = [
        [[], 'body.tags'],
        [Array.from({ length: 101 }, () => ok), 'body.tags'],
        [[{ ...ok, operation: 'toggle' }], 'body.tags.0.operation'],
        [[{ ...ok, tag_type: undefined }], 'body.tags.0.tag_type'],
        [[ok, { ...ok, tag: 'x'.repeat(201) }], 'body.tags.1.tag'],
        [[{ ...ok, flow_execution_id: 'nope' }], 'body.tags.0.flow_execution_id'],
        ['not a list', 'body.tags'],
      ];
      for (const [tags, loc] of cases) {
        const res = await patch(org, tags).expect(422);
        expectSpecResponse('patch', TAGS, 422, res.body);
        expect(res.body.detail.map((d: { loc: string[] }) => d.loc.join('.'))).toEqual([loc]);
      }
      expect(await rows(id)).toEqual([]);
    });

    it('401 without credentials', async () => {
      const { id } = await setup();
      await t
        .http()
        .patch(TAGS)
        .send({ tags: [add(id, 'extract', 'k', 'v')] })
        .expect(401);
      expect(await rows(id)).toEqual([]);
    });

    it.each(ROLES)('%s: changes tags only with the permission', async (role) => {
      const { org, id } = await setup();
      const allowed = ['org_admin', 'app_user', 'worker', 'backoffice'].includes(role);
      const res = await patch(org, [add(id, 'extract', 'by', role)], role).expect(allowed ? 200 : 403);
      if (!allowed) expect(res.body.error.code).toBe('forbidden');
      expect(await rows(id)).toHaveLength(allowed ? 1 : 0);
    });

    it('concurrent batches: one adds a tag, the others find it; opposite orders never deadlock', async () => {
      const { org, id } = await setup();
      const same = await Promise.all(Array.from({ length: 6 }, () => patch(org, [add(id, 'extract', 'k', 'same')])));
      expect(same.map((r) => r.status)).toEqual(Array(6).fill(200));
      expect(same.map((r) => r.body.tags[0].status).sort()).toEqual(['added', ...Array(5).fill('already_exists')]);

      const a = add(id, 'extract', 'k', 'a');
      const b = add(id, 'review', 'k', 'b');
      const crossed = await Promise.all(
        Array.from({ length: 8 }, (_, i) => patch(org, i % 2 ? [a, remove(id, 'review', 'k', 'b'), b] : [b, remove(id, 'extract', 'k', 'a'), a])),
      );
      expect(crossed.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(await labels(org, id)).toEqual(expect.arrayContaining(['extract/k:same', 'extract/k:a', 'review/k:b']));
    });
  });

  describe('GET /api/task-tags', () => {
    it('every role reads; a missing task_name filter lists every task’s tags', async () => {
      const { org, id } = await setup();
      await patch(org, [add(id, 'extract', 'k', '1'), add(id, 'review', 'k', '2')]).expect(200);
      for (const role of ROLES) {
        const res = await list(org, { flow_execution_id: id }, role).expect(200);
        expect(res.body).toHaveLength(2);
      }
      expect((await list(org, { flow_execution_id: id, task_name: 'ghost' }).expect(200)).body).toEqual([]);
    });

    it('401, 403 for another organization, 404 for a missing or deleted execution, 422 for bad queries', async () => {
      const { org, id } = await setup();
      await patch(org, [add(id, 'extract', 'secret', 'x')]).expect(200);
      await t.http().get(TAGS).query({ flow_execution_id: id }).expect(401);
      const other = await newOrg();
      const foreign = await list(other, { flow_execution_id: id }).expect(403);
      expectSpecResponse('get', TAGS, 404, foreign.body);
      expect(JSON.stringify(foreign.body)).not.toContain('secret');
      const missing = await list(org, { flow_execution_id: randomUUID() }).expect(404);
      expectSpecResponse('get', TAGS, 404, missing.body);
      const badQueries: Record<string, string>[] = [{}, { flow_execution_id: 'nope' }, { flow_execution_id: id, task_name: '' }];
      for (const query of badQueries) {
        const res = await list(org, query).expect(422);
        expectSpecResponse('get', TAGS, 422, res.body);
      }
      await t.http().delete(`/api/flow-executions/${id}`).set(org.auth()).expect(204);
      await list(org, { flow_execution_id: id }).expect(404);
    });
  });

  describe('GET /api/flows/{flow_id}/tags', () => {
    it('lists the distinct active tags over the flow’s live executions, sorted, optionally of one task', async () => {
      const { org, flowId, id } = await setup();
      const second = (await createExecution(t, org.auth, flowId)).id;
      const gone = (await createExecution(t, org.auth, flowId)).id;
      await patch(org, [
        add(id, 'extract', 'priority', 'high'),
        add(id, 'review', 'review_status', 'approved'),
        add(second, 'review', 'review_status', 'approved'),
        add(second, 'review', 'priority', 'low'),
        add(second, 'extract', 'old', 'tag'),
        add(gone, 'extract', 'deleted', 'run'),
      ]).expect(200);
      await patch(org, [remove(second, 'extract', 'old', 'tag')]).expect(200);
      await t.http().delete(`/api/flow-executions/${gone}`).set(org.auth()).expect(204);
      // Tags written by a worker's task report count too.
      await t
        .http()
        .post('/api/task-executions')
        .set(org.auth('worker'))
        .send({ flow_execution_id: id, task_name: 'receive', task_execution_idx: 0, processing_status: 'completed', tags: ['source:email'] })
        .expect(201);

      const res = await flowTags(org, flowId).expect(200);
      expectSpecResponse('get', FLOW_TAGS, 200, res.body);
      expect(res.body).toEqual(['priority:high', 'priority:low', 'review_status:approved', 'source:email']);
      expect((await flowTags(org, flowId, { task_name: 'review' }).expect(200)).body).toEqual(['priority:low', 'review_status:approved']);
      expect((await flowTags(org, flowId, { task_name: 'ghost' }).expect(200)).body).toEqual([]);
    });

    it('holds at most 1000 tags, the first in order', async () => {
      const { org, flowId, id } = await setup();
      const all = Array.from({ length: 1001 }, (_, i) => `n:${String(i).padStart(4, '0')}`);
      // A task of a run carries at most 100 active tags: a batch of 100 to each of 11 runs.
      for (let i = 0; i < all.length; i += 100) {
        const run = i === 0 ? id : (await createExecution(t, org.auth, flowId)).id;
        await patch(
          org,
          all.slice(i, i + 100).map((label) => add(run, 'extract', 'n', label.slice(2))),
        ).expect(200);
      }
      const res = await flowTags(org, flowId).expect(200);
      expect(res.body).toEqual(all.slice(0, 1000));
    });

    it('every role reads; 401, 403 for another organization, 404 for a missing or deleted flow, 400 for a bad id, 422 for a bad query', async () => {
      const { org, flowId, id } = await setup();
      await patch(org, [add(id, 'extract', 'secret', 'x')]).expect(200);
      for (const role of ROLES) expect((await flowTags(org, flowId, {}, role).expect(200)).body).toEqual(['secret:x']);
      await t.http().get(`/api/flows/${flowId}/tags`).expect(401);
      const foreign = await flowTags(await newOrg(), flowId).expect(403);
      expectSpecResponse('get', FLOW_TAGS, 403, foreign.body);
      expect(JSON.stringify(foreign.body)).not.toContain('secret');
      const missing = await flowTags(org, randomUUID()).expect(404);
      expectSpecResponse('get', FLOW_TAGS, 404, missing.body);
      await flowTags(org, 'nope').expect(400);
      const twice = await t.http().get(`/api/flows/${flowId}/tags?task_name=a&task_name=b`).set(org.auth()).expect(422);
      expectSpecResponse('get', FLOW_TAGS, 422, twice.body);
      expect(twice.body.detail.map((d: { loc: string[] }) => d.loc.join('.'))).toEqual(['query.task_name']);
      await t.http().delete(`/api/flows/${flowId}`).set(org.auth()).expect(204);
      await flowTags(org, flowId).expect(404);
    });
  });

  it('the OpenAPI document names the four operations and their schemas as the upstream document does', async () => {
    const doc = (await t.http().get('/openapi.json').expect(200)).body;
    expect(doc.paths['/api/flow-executions/{flow_execution_id}/webhook-data'].post.operationId).toBe(
      'receive_webhook_data_api_flow_executions__flow_execution_id__webhook_data_post',
    );
    expect(doc.paths['/api/task-tags'].patch.operationId).toBe('patch_flow_task_tags_api_task_tags_patch');
    expect(doc.paths['/api/task-tags'].get.operationId).toBe('list_task_tags_api_task_tags_get');
    expect(doc.paths['/api/flows/{flow_id}/tags'].get.operationId).toBe('get_flow_tags_api_flows__flow_id__tags_get');
    for (const name of [
      'WebhookDataCreateRequest',
      'WebhookDataAckResponse',
      'PatchFlowTaskTagsRequest',
      'PatchFlowTaskTagsRequestItem',
      'PatchFlowTaskTagsResponse',
      'PatchFlowTaskTagsResponseItem',
      'FlowTaskTagAPI',
    ]) {
      expect({ [name]: doc.components.schemas[name] !== undefined }).toEqual({ [name]: true });
    }
    expect(doc.paths['/api/task-tags'].patch.responses['403']).toBeDefined();
  });
});
