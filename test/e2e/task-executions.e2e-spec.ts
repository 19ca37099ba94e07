import { randomUUID } from 'node:crypto';
import { createExecution, createFlow, LINEAR_TASKS, orgWithExecution } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { asText, jsonWorkHere } from '../utils/json-work';
import { expectSpecResponse } from '../utils/spec';
import { newOrg } from '../utils/tokens';

const BASE = '/api/task-executions';
const ONE = '/api/task-executions/{task_execution_id}';
const EXECUTIONS = '/api/flow-executions';
type Org = Awaited<ReturnType<typeof newOrg>>;
type Role = Parameters<Org['auth']>[0];
type Body = Record<string, unknown>;
type TaskExecution = {
  id: string;
  task_name: string;
  task_execution_idx: number;
  processing_status: string;
  edited_status: string;
  stale_status: string;
  output: unknown;
  credits: number | null;
  updated_at: string;
  tags: { tag_type: string; tag: string }[];
};

/** The fields a 422 names, once each (a field failing several rules has an item per rule). */
const locs = (body: { detail: { loc: (string | number)[] }[] }) => [...new Set(body.detail.map((d) => d.loc.join('.')))];
const tagsOf = (te: { tags: { tag_type: string; tag: string }[] }) => te.tags.map((g) => `${g.tag_type}:${g.tag}`).sort();

describe('task executions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  /** A fresh organization with a LINEAR_TASKS flow (receive → extract → review) and one running execution. */
  async function setup() {
    return orgWithExecution(t, LINEAR_TASKS);
  }

  const report = (org: Org, body: Body, role: Role = 'worker') => t.http().post(BASE).set(org.auth(role)).send(body);
  const update = (org: Org, body: Body, query: Record<string, string> = {}, role: Role = 'worker') =>
    t.http().put(BASE).query(query).set(org.auth(role)).send(body);
  const getOne = (org: Org, id: string, query: Record<string, string> = {}) => t.http().get(`${BASE}/${id}`).query(query).set(org.auth('app_user'));
  const list = (org: Org, query: Record<string, string | number>) => t.http().get(BASE).query(query).set(org.auth('app_user'));
  const execution = async (org: Org, id: string, query: Record<string, string> = {}) =>
    (await t.http().get(`${EXECUTIONS}/${id}`).query(query).set(org.auth()).expect(200)).body;
  const patchStatus = (org: Org, id: string, status: string) =>
    t.http().patch(`${EXECUTIONS}/${id}/status`).query({ status }).set(org.auth('worker')).expect(200);

  async function reported(org: Org, body: Body): Promise<TaskExecution> {
    const res = await report(org, body);
    if (res.status !== 201) throw new Error(`report: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Every task of the run completed (review twice: attempt 1 is its latest), then the run completed. */
  async function completedRun() {
    const s = await setup();
    const fe = s.execution.id;
    const done = (task_name: string, task_execution_idx: number, output: unknown) =>
      reported(s.org, { flow_execution_id: fe, task_name, task_execution_idx, processing_status: 'completed', output });
    const receive = await done('receive', 0, { document_url: 's3://a.pdf' });
    const extract = await done('extract', 0, { total: 10 });
    const review0 = await done('review', 0, { approved: false });
    const review1 = await done('review', 1, { approved: true });
    await patchStatus(s.org, fe, 'completed');
    return { ...s, receive, extract, review0, review1 };
  }

  describe('POST /api/task-executions', () => {
    it('records a task execution in the parent’s organization, with tags and credits', async () => {
      const { org, execution: fe } = await setup();
      const res = await report(org, {
        flow_execution_id: fe.id.toUpperCase(),
        task_name: 'extract',
        task_execution_idx: 0,
        processing_status: 'completed',
        input: [1, 2, 3],
        output: { total: 10, lines: [{ sku: 'A', qty: 2 }] },
        error: null,
        source_task_executions: 'receive',
        started_at: '2025-01-23T10:30:00+02:00',
        completed_at: '2025-01-23T08:31:00.250Z',
        tags: ['priority:high', 'customer:acme:eu', 'priority:high'],
        credits: 7,
        organization_id: randomUUID(),
        edited_status: 'edited_reexecuted',
        stale_status: 'stale',
        modified_by: 'someone-else',
      });
      expect(res.status).toBe(201);
      expectSpecResponse('post', BASE, 201, res.body);
      expect(res.body).toMatchObject({
        flow_execution_id: fe.id,
        task_name: 'extract',
        task_execution_idx: 0,
        processing_status: 'completed',
        edited_status: 'not_edited',
        stale_status: 'consistent',
        input: [1, 2, 3],
        output: { total: 10, lines: [{ sku: 'A', qty: 2 }] },
        error: null,
        source_task_executions: 'receive',
        started_at: '2025-01-23T08:30:00.000Z',
        completed_at: '2025-01-23T08:31:00.250Z',
        credits: 7,
        organization_id: org.id,
        modified_by: 'user-worker',
      });
      expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);
      expect(tagsOf(res.body)).toEqual(['customer:acme:eu', 'priority:high']);
      for (const tag of res.body.tags) {
        expect(tag).toMatchObject({ flow_execution_id: fe.id, task_name: 'extract', status: 'active', organization_id: org.id, modified_by: 'user-worker' });
      }
    });

    it('defaults what is not reported, and lets backoffice report too', async () => {
      const { org, execution: fe } = await setup();
      const res = await report(org, { flow_execution_id: fe.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' }, 'backoffice');
      expect(res.status).toBe(201);
      expectSpecResponse('post', BASE, 201, res.body);
      expect(res.body).toMatchObject({
        input: null,
        output: null,
        error: null,
        source_task_executions: null,
        started_at: null,
        completed_at: null,
        credits: null,
        tags: [],
        modified_by: 'user-backoffice',
      });
    });

    it('writes a task status history row for terminal_task_status in the same call', async () => {
      const { org, execution: fe } = await setup();
      await reported(org, {
        flow_execution_id: fe.id,
        task_name: 'receive',
        task_execution_idx: 0,
        processing_status: 'completed',
        terminal_task_status: 'completed',
      });
      await reported(org, {
        flow_execution_id: fe.id,
        task_name: 'extract',
        task_execution_idx: 0,
        processing_status: 'failed',
        terminal_task_status: 'failed',
      });
      await reported(org, { flow_execution_id: fe.id, task_name: 'review', task_execution_idx: 0, processing_status: 'running' });
      const history = await t.dataSource.query(
        'SELECT task_name, status, organization_id FROM flow_task_statuses WHERE flow_execution_id = $1 ORDER BY created_at',
        [fe.id],
      );
      expect(history).toEqual([
        { task_name: 'receive', status: 'completed', organization_id: org.id },
        { task_name: 'extract', status: 'failed', organization_id: org.id },
      ]);
    });

    it('answers 409 for a duplicate (execution, task, idx) and keeps the first; exactly one of concurrent duplicates wins', async () => {
      const { org, execution: fe } = await setup();
      const key = { flow_execution_id: fe.id, task_name: 'receive', task_execution_idx: 0 };
      const first = await reported(org, { ...key, processing_status: 'running', credits: 1 });
      const dup = await report(org, { ...key, processing_status: 'completed', credits: 5, tags: ['x:y'] }).expect(409);
      expectEnvelope(dup, 409, 'conflict');
      expect(dup.body.error.details).toEqual({ ...key });
      const [kept] = (await list(org, { flow_execution_id: fe.id, include_credits: 'true' }).expect(200)).body.task_executions;
      expect(kept).toMatchObject({ id: first.id, processing_status: 'running', credits: 1, tags: [] });

      const racing = await Promise.all(
        Array.from({ length: 6 }, (_, i) => report(org, { ...key, task_execution_idx: 1, processing_status: 'queued', credits: i })),
      );
      expect(racing.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      expect((await list(org, { flow_execution_id: fe.id, task_execution_idx: 1 }).expect(200)).body.task_executions).toHaveLength(1);
    });

    it('answers 400 for a task the pinned flow version does not have, recording nothing', async () => {
      const { org, execution: fe } = await setup();
      const res = await report(org, {
        flow_execution_id: fe.id,
        task_name: 'Extract',
        task_execution_idx: 0,
        processing_status: 'queued',
        tags: ['a:b'],
      }).expect(400);
      expectSpecResponse('post', BASE, 400, res.body);
      expect(res.body.error).toMatchObject({ code: 'bad_request', message: 'Unknown task name for flow version 1: Extract' });
      expect((await list(org, { flow_execution_id: fe.id }).expect(200)).body.task_executions).toEqual([]);
      expect(await t.dataSource.query('SELECT 1 FROM task_execution_tags WHERE flow_execution_id = $1', [fe.id])).toEqual([]);
    });

    it('answers 404 for an unknown or deleted parent and 403 for another organization’s, leaking nothing', async () => {
      const { org, flowId, execution: fe } = await setup();
      const other = await newOrg();
      const body = { task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' };

      const unknown = await report(org, { ...body, flow_execution_id: randomUUID() }).expect(404);
      expectSpecResponse('post', BASE, 404, unknown.body);
      expect(unknown.body.error).toMatchObject({ code: 'not_found', message: 'Flow execution not found' });

      const foreign = await report(other, { ...body, flow_execution_id: fe.id }).expect(403);
      expectEnvelope(foreign, 403, 'forbidden');
      expect(JSON.stringify(foreign.body)).not.toContain(fe.id);

      const doomed = await createExecution(t, org.auth, flowId);
      await t.http().delete(`${EXECUTIONS}/${doomed.id}`).set(org.auth()).expect(204);
      const deleted = await report(org, { ...body, flow_execution_id: doomed.id }).expect(404);
      expect(deleted.body.error.message).toBe('Flow execution not found');
      expect(await t.dataSource.query('SELECT 1 FROM task_executions WHERE flow_execution_id = ANY($1)', [[fe.id, doomed.id]])).toEqual([]);
    });

    it('answers 422 naming each bad field', async () => {
      const { org, execution: fe } = await setup();
      const good = { flow_execution_id: fe.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' };
      const bad = await report(org, {
        flow_execution_id: 'not-a-uuid',
        task_name: '',
        task_execution_idx: -1,
        processing_status: 'done',
        credits: -1,
        tags: ['nocolon', 'ok:1'],
        started_at: '2025-01-23',
        terminal_task_status: 'running',
      }).expect(422);
      expectSpecResponse('post', BASE, 422, bad.body);
      expect(bad.body.error).toMatchObject({ code: 'validation_error', message: 'Request validation failed' });
      expect(locs(bad.body)).toEqual(
        expect.arrayContaining([
          'body.flow_execution_id',
          'body.task_name',
          'body.task_execution_idx',
          'body.processing_status',
          'body.credits',
          'body.tags',
          'body.started_at',
          'body.terminal_task_status',
        ]),
      );
      expect(locs((await report(org, {}).expect(422)).body)).toEqual(
        expect.arrayContaining(['body.flow_execution_id', 'body.task_name', 'body.task_execution_idx', 'body.processing_status']),
      );
      for (const credits of [1.5, '3', 2 ** 31]) {
        expect(locs((await report(org, { ...good, credits }).expect(422)).body)).toEqual(['body.credits']);
      }
      for (const tags of ['a:b', [':v'], ['k:'], [`${'k'.repeat(101)}:v`], [{ tag_type: 'k' }]]) {
        expect(locs((await report(org, { ...good, tags }).expect(422)).body)).toEqual(['body.tags']);
      }
      expect((await list(org, { flow_execution_id: fe.id }).expect(200)).body.task_executions).toEqual([]);
    });

    it('refuses roles without the report permission (403) and anonymous callers (401)', async () => {
      const { org, execution: fe } = await setup();
      const body = { flow_execution_id: fe.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' };
      for (const role of ['app_user', 'org_admin', 'integration', 'publisher'] as const) {
        const res = await report(org, body, role).expect(403);
        expectEnvelope(res, 403, 'forbidden');
      }
      expectEnvelope(await t.http().post(BASE).send(body).expect(401), 401, 'unauthorized');
      expect((await list(org, { flow_execution_id: fe.id }).expect(200)).body.task_executions).toEqual([]);
    });
  });

  describe('PUT /api/task-executions', () => {
    it('applies only the fields given to the task execution the key names', async () => {
      const { org, execution: fe } = await setup();
      const key = { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 0 };
      const created = await reported(org, { ...key, processing_status: 'queued', input: { url: 's3://a' }, credits: 1, tags: ['priority:high'] });

      const running = await update(org, { ...key, processing_status: 'running', started_at: '2025-01-23T10:30:00Z' }).expect(200);
      expectSpecResponse('put', BASE, 200, running.body);
      expect(running.body).toMatchObject({
        id: created.id,
        processing_status: 'running',
        input: { url: 's3://a' },
        credits: 1,
        started_at: '2025-01-23T10:30:00.000Z',
      });
      expect(tagsOf(running.body)).toEqual(['priority:high']);
      expect(Date.parse(running.body.updated_at)).toBeGreaterThan(Date.parse(created.updated_at));

      // The first output of a task is a report, not an edit.
      const done = await update(org, { ...key, processing_status: 'completed', output: ['a', 'b'], credits: 4, error: null }, {}, 'backoffice').expect(200);
      expect(done.body).toMatchObject({
        processing_status: 'completed',
        output: ['a', 'b'],
        credits: 4,
        edited_status: 'not_edited',
        stale_status: 'consistent',
        modified_by: 'user-backoffice',
        started_at: '2025-01-23T10:30:00.000Z',
      });

      // The whole object as GET returns it (tags as objects, server-kept fields included) round-trips.
      const fetched = (await getOne(org, created.id).expect(200)).body;
      const again = await update(org, { ...fetched, credits: null, edited_status: 'edited_reexecuted', organization_id: randomUUID() }).expect(200);
      expect(again.body).toMatchObject({ id: created.id, output: ['a', 'b'], credits: null, edited_status: 'not_edited', organization_id: org.id });
      expect(tagsOf(again.body)).toEqual(['priority:high']);
    });

    it('replaces the task’s active tags with the given ones; absent tags are left alone', async () => {
      const { org, flowId, execution: fe } = await setup();
      const key = { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 0 };
      await reported(org, { ...key, processing_status: 'running', tags: ['priority:high', 'customer:acme'] });

      const replaced = await update(org, { ...key, tags: ['customer:acme', 'region:eu'] }).expect(200);
      expect(tagsOf(replaced.body)).toEqual(['customer:acme', 'region:eu']);
      const untouched = await update(org, { ...key, processing_status: 'completed' }).expect(200);
      expect(tagsOf(untouched.body)).toEqual(['customer:acme', 'region:eu']);

      // Tags belong to the task of the run: a retry sees them and adds its own.
      const retry = await reported(org, { ...key, task_execution_idx: 1, processing_status: 'queued', tags: ['priority:high'] });
      expect(tagsOf(retry)).toEqual(['customer:acme', 'priority:high', 'region:eu']);

      const cleared = await update(org, { ...key, tags: [] }).expect(200);
      expect(cleared.body.tags).toEqual([]);
      const rows = await t.dataSource.query(`SELECT tag_type || ':' || tag AS tag, status FROM task_execution_tags WHERE flow_execution_id = $1 ORDER BY 1`, [
        fe.id,
      ]);
      expect(rows).toEqual([
        { tag: 'customer:acme', status: 'deleted' },
        { tag: 'priority:high', status: 'deleted' },
        { tag: 'region:eu', status: 'deleted' },
      ]);
      const ids = async (tag: string) =>
        (await t.http().get(EXECUTIONS).query({ flow_id: flowId, tags: tag }).set(org.auth()).expect(200)).body.map((e: { id: string }) => e.id);
      expect(await ids('priority:high')).toEqual([]);
      await update(org, { ...key, tags: ['priority:high'] }).expect(200);
      expect(await ids('priority:high')).toEqual([fe.id]);
    });

    it('writes a task status history row for terminal_task_status', async () => {
      const { org, execution: fe } = await setup();
      const key = { flow_execution_id: fe.id, task_name: 'review', task_execution_idx: 0 };
      await reported(org, { ...key, processing_status: 'running' });
      await update(org, { ...key, processing_status: 'failed', error: { message: 'boom' }, terminal_task_status: 'failed' }).expect(200);
      const history = await t.dataSource.query('SELECT task_name, status FROM flow_task_statuses WHERE flow_execution_id = $1', [fe.id]);
      expect(history).toEqual([{ task_name: 'review', status: 'failed' }]);
    });

    it('marks an edit of a completed output, makes the latest downstream attempts stale and the completed run edited', async () => {
      const { org, execution: fe, receive, extract, review0, review1 } = await completedRun();
      const edited = await update(org, {
        flow_execution_id: fe.id,
        task_name: 'receive',
        task_execution_idx: 0,
        output: { document_url: 's3://b.pdf' },
      }).expect(200);
      expectSpecResponse('put', BASE, 200, edited.body);
      expect(edited.body).toMatchObject({
        id: receive.id,
        output: { document_url: 's3://b.pdf' },
        edited_status: 'edited_not_reexecuted',
        stale_status: 'consistent',
      });

      const all = (await list(org, { flow_execution_id: fe.id }).expect(200)).body.task_executions as TaskExecution[];
      const byId = new Map(all.map((te) => [te.id, te]));
      expect(byId.get(extract.id)).toMatchObject({ stale_status: 'stale', edited_status: 'not_edited', output: { total: 10 } });
      expect(byId.get(review1.id)).toMatchObject({ stale_status: 'stale' });
      expect(byId.get(review0.id)).toMatchObject({ stale_status: 'consistent' });
      expect((await execution(org, fe.id)).status).toBe('edited');
    });

    it('does not count the same output, or a new output of an unfinished task, as an edit', async () => {
      const { org, execution: fe, extract } = await completedRun();
      // jsonb equality: key order does not matter.
      const same = await update(org, { flow_execution_id: fe.id, task_name: 'receive', task_execution_idx: 0, output: { document_url: 's3://a.pdf' } }).expect(
        200,
      );
      expect(same.body.edited_status).toBe('not_edited');
      expect((await getOne(org, extract.id).expect(200)).body.stale_status).toBe('consistent');
      expect((await execution(org, fe.id)).status).toBe('completed');

      const retry = await reported(org, { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 1, processing_status: 'running' });
      const finished = await update(org, {
        flow_execution_id: fe.id,
        task_name: 'extract',
        task_execution_idx: 1,
        processing_status: 'completed',
        output: { total: 11 },
      }).expect(200);
      expect(finished.body).toMatchObject({ id: retry.id, edited_status: 'not_edited' });
      expect((await execution(org, fe.id)).status).toBe('completed');
    });

    it('edits while the run is still running: the run keeps its status', async () => {
      const { org, execution: fe } = await setup();
      const done = (task_name: string) =>
        reported(org, { flow_execution_id: fe.id, task_name, task_execution_idx: 0, processing_status: 'completed', output: { v: 1 } });
      await done('receive');
      const extract = await done('extract');
      await update(org, { flow_execution_id: fe.id, task_name: 'receive', task_execution_idx: 0, output: { v: 2 } }).expect(200);
      expect((await getOne(org, extract.id).expect(200)).body.stale_status).toBe('stale');
      expect((await execution(org, fe.id)).status).toBe('running');
    });

    it('with execute_flow=true re-executes the stale tasks after an edit', async () => {
      const { org, execution: fe, receive, extract, review0, review1 } = await completedRun();
      const res = await update(
        org,
        { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 0, output: { total: 12 } },
        { execute_flow: 'true' },
      ).expect(200);
      expectSpecResponse('put', BASE, 200, res.body);
      expect(res.body).toMatchObject({ id: extract.id, output: { total: 12 }, edited_status: 'edited_reexecuted', stale_status: 'consistent' });

      const byId = new Map(((await list(org, { flow_execution_id: fe.id }).expect(200)).body.task_executions as TaskExecution[]).map((te) => [te.id, te]));
      expect(byId.get(review1.id)).toMatchObject({ processing_status: 'queued', stale_status: 'consistent', output: null });
      expect(byId.get(review0.id)).toMatchObject({ processing_status: 'completed', output: { approved: false } });
      expect(byId.get(receive.id)).toMatchObject({ processing_status: 'completed', edited_status: 'not_edited' });
      expect((await execution(org, fe.id)).status).toBe('running');
    });

    it('with execute_flow=true and nothing stale (an edit of the last task) re-executes nothing', async () => {
      const { org, execution: fe, review1 } = await completedRun();
      const res = await update(
        org,
        { flow_execution_id: fe.id, task_name: 'review', task_execution_idx: 1, output: { approved: false } },
        { execute_flow: 'yes' },
      ).expect(200);
      expect(res.body).toMatchObject({ id: review1.id, edited_status: 'edited_not_reexecuted', processing_status: 'completed' });
      expect((await execution(org, fe.id)).status).toBe('edited');
    });

    it('serializes concurrent edits, progress reports, retries and a re-execution of one run without deadlocks', async () => {
      const { org, execution: fe, extract } = await completedRun();
      const edits = Array.from({ length: 4 }, (_, i) =>
        update(org, { flow_execution_id: fe.id, task_name: 'receive', task_execution_idx: 0, output: { document_url: `s3://${i}.pdf` } }),
      );
      const progress = Array.from({ length: 4 }, (_, i) =>
        update(org, { flow_execution_id: fe.id, task_name: 'review', task_execution_idx: 1, processing_status: 'completed', tags: [`round:${i}`] }),
      );
      const retries = Array.from({ length: 4 }, (_, i) =>
        report(org, { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 2 + i, processing_status: 'queued', tags: ['retry:yes'] }),
      );
      const rerun = update(org, { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 0, output: { total: 99 } }, { execute_flow: 'true' });
      const results = await Promise.all([...edits, ...progress, ...retries, rerun]);
      expect(results.map((r) => r.status)).toEqual([...Array(8).fill(200), ...Array(4).fill(201), 200]);

      // An edit of `receive` committed between the rerun's update and its re-execution leaves
      // `extract` stale, and the stale-only re-execution then resets it: both orders are correct.
      const edited = (await getOne(org, extract.id).expect(200)).body;
      if (edited.output === null) expect(edited).toMatchObject({ processing_status: 'queued', stale_status: 'consistent' });
      else expect(edited.output).toEqual({ total: 99 });
      expect((await list(org, { flow_execution_id: fe.id, task_name: 'extract' }).expect(200)).body.task_executions).toHaveLength(5);
      expect(['edited', 'running']).toContain((await execution(org, fe.id)).status);
    });

    it('answers 404 for an unknown task execution or parent, 400 for an unknown task or a mismatched id, 403 across organizations', async () => {
      const { org, flowId, execution: fe } = await setup();
      const other = await newOrg();
      const key = { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 0 };
      const created = await reported(org, { ...key, processing_status: 'running' });

      const missing = await update(org, { ...key, task_execution_idx: 1, processing_status: 'completed' }).expect(404);
      expectSpecResponse('put', BASE, 404, missing.body);
      expect(missing.body.error).toMatchObject({ code: 'not_found', message: 'Task execution not found' });
      const noParent = await update(org, { ...key, flow_execution_id: randomUUID() }).expect(404);
      expect(noParent.body.error.message).toBe('Flow execution not found');

      const unknownTask = await update(org, { ...key, task_name: 'nope' }).expect(400);
      expectSpecResponse('put', BASE, 400, unknownTask.body);
      expectEnvelope(unknownTask, 400, 'bad_request');
      const mismatch = await update(org, { ...key, id: randomUUID(), processing_status: 'failed' }).expect(400);
      expect(mismatch.body.error.message).toContain('id does not match');

      const foreign = await update(other, { ...key, processing_status: 'failed' }).expect(403);
      expectEnvelope(foreign, 403, 'forbidden');
      expect(JSON.stringify(foreign.body)).not.toContain(created.id);

      const doomed = await createExecution(t, org.auth, flowId);
      await reported(org, { ...key, flow_execution_id: doomed.id, processing_status: 'running' });
      await t.http().delete(`${EXECUTIONS}/${doomed.id}`).set(org.auth()).expect(204);
      const deleted = await update(org, { ...key, flow_execution_id: doomed.id, processing_status: 'failed' }).expect(404);
      expect(deleted.body.error.message).toBe('Flow execution not found');

      expect((await getOne(org, created.id).expect(200)).body.processing_status).toBe('running');
    });

    it('answers 422 for bad fields and a bad execute_flow, 403 without the report permission, 401 without credentials', async () => {
      const { org, execution: fe } = await setup();
      const key = { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 0 };
      await reported(org, { ...key, processing_status: 'running' });

      const bad = await update(org, { ...key, processing_status: 'finished', credits: 'many', tags: 'priority:high', completed_at: 'yesterday' }).expect(422);
      expectSpecResponse('put', BASE, 422, bad.body);
      expect(locs(bad.body)).toEqual(expect.arrayContaining(['body.processing_status', 'body.credits', 'body.tags', 'body.completed_at']));
      expect(locs((await update(org, { processing_status: 'completed' }).expect(422)).body)).toEqual(
        expect.arrayContaining(['body.flow_execution_id', 'body.task_name', 'body.task_execution_idx']),
      );
      expect(locs((await update(org, { ...key, id: 'x' }).expect(422)).body)).toEqual(['body.id']);
      expect(locs((await update(org, key, { execute_flow: 'maybe' }).expect(422)).body)).toEqual(['query.execute_flow']);

      for (const role of ['app_user', 'org_admin'] as const) {
        expectEnvelope(await update(org, { ...key, processing_status: 'completed' }, {}, role).expect(403), 403, 'forbidden');
      }
      await t
        .http()
        .put(BASE)
        .send({ ...key, processing_status: 'completed' })
        .expect(401);
      expect((await list(org, { flow_execution_id: fe.id }).expect(200)).body.task_executions[0].processing_status).toBe('running');
    });
  });

  describe('GET /api/task-executions/{task_execution_id}', () => {
    it('answers the task execution with its tags; credits only with include_credits', async () => {
      const { org, execution: fe } = await setup();
      const created = await reported(org, {
        flow_execution_id: fe.id,
        task_name: 'receive',
        task_execution_idx: 0,
        processing_status: 'completed',
        output: { document_url: 's3://a.pdf' },
        credits: 3,
        tags: ['source:email'],
      });
      const plain = await getOne(org, created.id.toUpperCase()).expect(200);
      expectSpecResponse('get', ONE, 200, plain.body);
      expect(plain.body).toEqual({ ...created, credits: null });
      const withCredits = await getOne(org, created.id, { include_credits: 'on' }).expect(200);
      expect(withCredits.body).toEqual(created);
      expect(withCredits.body.tags[0]).toMatchObject({ tag_type: 'source', tag: 'email', status: 'active' });
    });

    it('answers 400 for a malformed id, 404 unknown or under a deleted run, 403 another organization, 401 and 422', async () => {
      const { org, execution: fe } = await setup();
      const other = await newOrg();
      const created = await reported(org, { flow_execution_id: fe.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' });

      const malformed = await getOne(org, 'not-a-uuid').expect(400);
      expectEnvelope(malformed, 400, 'bad_request');
      expect(malformed.body.error.message).toBe('Invalid task execution ID format');

      const unknown = await getOne(org, randomUUID()).expect(404);
      expectSpecResponse('get', ONE, 404, unknown.body);
      expect(unknown.body.error.message).toBe('Task execution not found');

      const foreign = await getOne(other, created.id).expect(403);
      expectSpecResponse('get', ONE, 403, foreign.body);
      expectEnvelope(foreign, 403, 'forbidden');
      expect(JSON.stringify(foreign.body)).not.toContain(created.id);

      const bad = await getOne(org, created.id, { include_credits: 'maybe' }).expect(422);
      expectSpecResponse('get', ONE, 422, bad.body);
      expect(locs(bad.body)).toEqual(['query.include_credits']);
      await t.http().get(`${BASE}/${created.id}`).expect(401);

      await t.http().delete(`${EXECUTIONS}/${fe.id}`).set(org.auth()).expect(204);
      expect((await getOne(org, created.id).expect(404)).body.error.message).toBe('Task execution not found');
    });
  });

  describe('GET /api/task-executions', () => {
    it('lists a flow execution’s task executions newest first, filtered by task name and attempt', async () => {
      const { org, execution: fe } = await setup();
      const a = await reported(org, {
        flow_execution_id: fe.id,
        task_name: 'receive',
        task_execution_idx: 0,
        processing_status: 'completed',
        credits: 2,
        tags: ['source:email'],
      });
      const b = await reported(org, {
        flow_execution_id: fe.id,
        task_name: 'extract',
        task_execution_idx: 0,
        processing_status: 'failed',
        tags: ['priority:high'],
      });
      const c = await reported(org, { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 1, processing_status: 'running', credits: 1 });

      const all = await list(org, { flow_execution_id: fe.id }).expect(200);
      expectSpecResponse('get', BASE, 200, all.body);
      expect(all.body.task_executions.map((te: TaskExecution) => te.id)).toEqual([c.id, b.id, a.id]);
      expect(all.body.task_executions.map((te: TaskExecution) => te.credits)).toEqual([null, null, null]);
      expect(all.body.task_executions.map(tagsOf)).toEqual([['priority:high'], ['priority:high'], ['source:email']]);

      const credits = await list(org, { flow_execution_id: fe.id, include_credits: 'true' }).expect(200);
      expect(credits.body.task_executions.map((te: TaskExecution) => te.credits)).toEqual([1, null, 2]);

      const extract = await list(org, { flow_execution_id: fe.id, task_name: 'extract' }).expect(200);
      expect(extract.body.task_executions.map((te: TaskExecution) => te.id)).toEqual([c.id, b.id]);
      const firsts = await list(org, { flow_execution_id: fe.id, task_execution_idx: 0 }).expect(200);
      expect(firsts.body.task_executions.map((te: TaskExecution) => te.id)).toEqual([b.id, a.id]);
      const exact = await list(org, { flow_execution_id: fe.id, task_name: 'extract', task_execution_idx: 1 }).expect(200);
      expect(exact.body.task_executions.map((te: TaskExecution) => te.id)).toEqual([c.id]);
      expect((await list(org, { flow_execution_id: fe.id, task_name: 'review' }).expect(200)).body).toEqual({ task_executions: [] });
    });

    it('without flow_execution_id lists the whole organization, never another’s nor a deleted run’s', async () => {
      const { org, flowId, execution: first } = await setup();
      const second = await createExecution(t, org.auth, flowId);
      const doomed = await createExecution(t, org.auth, flowId);
      const other = await setup();
      const mine = [
        await reported(org, { flow_execution_id: first.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' }),
        await reported(org, { flow_execution_id: second.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' }),
      ];
      await reported(org, { flow_execution_id: doomed.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' });
      await reported(other.org, { flow_execution_id: other.execution.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' });
      await t.http().delete(`${EXECUTIONS}/${doomed.id}`).set(org.auth()).expect(204);

      const res = await list(org, {}).expect(200);
      expectSpecResponse('get', BASE, 200, res.body);
      expect(res.body.task_executions.map((te: TaskExecution) => te.id)).toEqual([mine[1].id, mine[0].id]);
      const receive = await list(org, { task_name: 'receive', task_execution_idx: 0 }).expect(200);
      expect(receive.body.task_executions).toHaveLength(2);
    });

    it('a page is written by PostgreSQL and spliced: no value of it parsed nor walked on the event loop, each item as the retrieve answers it', async () => {
      const { org, flowId } = await setup();
      const withTasks = async (n: number) => {
        const fe = await createExecution(t, org.auth, flowId);
        const attempts = Array.from({ length: n }, (_, idx) => ({
          flow_execution_id: fe.id,
          task_name: ['receive', 'extract', 'review'][idx % 3],
          task_execution_idx: idx,
          processing_status: idx % 2 ? 'completed' : 'failed',
          input: { idx, note: 'ünï\u2028' },
          output: idx % 4 ? { rows: [idx, 1.5, null, { a: [true] }] } : null,
          error: idx % 2 ? null : { message: 'x' },
          credits: idx % 5 || null,
          started_at: new Date(Date.UTC(2026, 0, 1, 0, 0, idx)).toISOString(),
          tags: [`source:s${idx % 3}`, 'priority:high'],
        }));
        for (let i = 0; i < n; i += 10) await Promise.all(attempts.slice(i, i + 10).map((body) => reported(org, body)));
        return fe.id;
      };
      const [few, many] = [await withTasks(12), await withTasks(120)];
      const page = (id: string) => jsonWorkHere(4096, () => list(org, { flow_execution_id: id, include_credits: 'true' }).buffer(true).parse(asText));
      const small = await page(few);
      const large = await page(many);
      for (const [work, n] of [
        [small, 12],
        [large, 120],
      ] as const) {
        expect(work.result.status).toBe(200);
        expect((JSON.parse(work.result.body as string) as { task_executions: unknown[] }).task_executions).toHaveLength(n);
      }
      // Built here, each row's 20 columns and its tags' would be parsed (dates, JSON) and walked by the serializer: about 60 calls a row.
      expect(large.columnsParsed - small.columnsParsed).toBeLessThan(10);
      expect(large.stringified - small.stringified).toBeLessThan(50);

      const listed = JSON.parse(small.result.body as string) as { task_executions: TaskExecution[] };
      expectSpecResponse('get', BASE, 200, listed);
      for (const item of listed.task_executions) {
        expect(item).toEqual((await getOne(org, item.id, { include_credits: 'true' }).expect(200)).body);
      }
    });

    it('answers 404 for an unknown or deleted flow execution, 403 for another organization’s, 422 for bad filters, 401 anonymous', async () => {
      const { org, flowId } = await setup();
      const other = await setup();
      await reported(other.org, { flow_execution_id: other.execution.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'queued' });

      const unknown = await list(org, { flow_execution_id: randomUUID() }).expect(404);
      expectEnvelope(unknown, 404, 'not_found');
      expect(unknown.body.error.message).toBe('Flow execution not found');
      const doomed = await createExecution(t, org.auth, flowId);
      await t.http().delete(`${EXECUTIONS}/${doomed.id}`).set(org.auth()).expect(204);
      await list(org, { flow_execution_id: doomed.id }).expect(404);

      const foreign = await list(org, { flow_execution_id: other.execution.id }).expect(403);
      expectEnvelope(foreign, 403, 'forbidden');
      expect(JSON.stringify(foreign.body)).not.toContain('receive');

      const bad = await list(org, { flow_execution_id: 'x', task_execution_idx: -1, task_name: '', include_credits: 'perhaps' }).expect(422);
      expectSpecResponse('get', BASE, 422, bad.body);
      expect(locs(bad.body).sort()).toEqual(['query.flow_execution_id', 'query.include_credits', 'query.task_execution_idx', 'query.task_name']);
      expect(locs((await list(org, { task_execution_idx: '1.5' }).expect(422)).body)).toEqual(['query.task_execution_idx']);
      await t.http().get(BASE).expect(401);
    });
  });

  describe('what the flow-executions endpoints see', () => {
    it('filters the executions list by the tags task executions carry (tags and tags_exclude)', async () => {
      const { org, flowId, execution: high } = await setup();
      const low = await createExecution(t, org.auth, flowId);
      const none = await createExecution(t, org.auth, flowId);
      await reported(org, {
        flow_execution_id: high.id,
        task_name: 'extract',
        task_execution_idx: 0,
        processing_status: 'completed',
        tags: ['priority:high', 'customer:acme'],
      });
      await reported(org, { flow_execution_id: low.id, task_name: 'review', task_execution_idx: 0, processing_status: 'completed', tags: ['priority:low'] });
      await reported(org, { flow_execution_id: none.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'completed' });

      const ids = async (query: Record<string, string | string[]>) => {
        const res = await t
          .http()
          .get(EXECUTIONS)
          .query({ flow_id: flowId, sort_direction: 'asc', ...query })
          .set(org.auth())
          .expect(200);
        expectSpecResponse('get', EXECUTIONS, 200, res.body);
        return res.body.map((e: { id: string }) => e.id);
      };
      expect(await ids({ tags: 'priority:high' })).toEqual([high.id]);
      expect(await ids({ tags: ['priority:high', 'priority:low'] })).toEqual([high.id, low.id]);
      expect(await ids({ tags_exclude: 'priority:high' })).toEqual([low.id, none.id]);
      expect(await ids({ tags: 'customer:acme', tags_exclude: 'priority:low' })).toEqual([high.id]);
      expect(await ids({ tags: 'priority:urgent' })).toEqual([]);

      // Replacing a task's tags moves the execution between filters.
      await update(org, { flow_execution_id: high.id, task_name: 'extract', task_execution_idx: 0, tags: ['priority:low'] }).expect(200);
      expect(await ids({ tags: 'priority:high' })).toEqual([]);
      expect(await ids({ tags: 'priority:low' })).toEqual([high.id, low.id]);
    });

    it('sums task execution credits into total_credits, null when none has credits', async () => {
      const { org, flowId, execution: paid } = await setup();
      const free = await createExecution(t, org.auth, flowId);
      const empty = await createExecution(t, org.auth, flowId);
      await reported(org, { flow_execution_id: paid.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'completed', credits: 3 });
      await reported(org, { flow_execution_id: paid.id, task_name: 'extract', task_execution_idx: 0, processing_status: 'failed', credits: 4 });
      await reported(org, { flow_execution_id: paid.id, task_name: 'extract', task_execution_idx: 1, processing_status: 'running' });
      await update(org, { flow_execution_id: paid.id, task_name: 'extract', task_execution_idx: 1, processing_status: 'completed', credits: 5 }).expect(200);
      await reported(org, { flow_execution_id: free.id, task_name: 'receive', task_execution_idx: 0, processing_status: 'completed' });

      const one = await execution(org, paid.id, { include_credits: 'true' });
      expectSpecResponse('get', `${EXECUTIONS}/{flow_execution_id}`, 200, one);
      expect(one.total_credits).toBe(12);
      expect((await execution(org, paid.id)).total_credits).toBeNull();
      expect((await execution(org, free.id, { include_credits: 'true' })).total_credits).toBeNull();
      expect((await execution(org, empty.id, { include_credits: 'true' })).total_credits).toBeNull();

      const page = await t.http().get(EXECUTIONS).query({ flow_id: flowId, include_credits: true, sort_direction: 'asc' }).set(org.auth()).expect(200);
      expect(page.body.map((e: { id: string; total_credits: number | null }) => [e.id, e.total_credits])).toEqual([
        [paid.id, 12],
        [free.id, null],
        [empty.id, null],
      ]);
    });
  });

  it('a worker’s full story: report every task with credits and tags, complete the run, then read it all back', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth, LINEAR_TASKS);
    const run = await createExecution(t, org.auth, flowId);
    const bystander = await createExecution(t, org.auth, flowId);
    expect(run.status).toBe('running');

    const steps: [string, number | null, string[]][] = [
      ['receive', 1, ['source:email']],
      ['extract', 5, ['priority:high']],
      ['review', null, ['reviewer:alice']],
    ];
    for (const [task_name, credits, tags] of steps) {
      const key = { flow_execution_id: run.id, task_name, task_execution_idx: 0 };
      await reported(org, { ...key, processing_status: 'running', started_at: new Date().toISOString() });
      const done = await update(org, {
        ...key,
        processing_status: 'completed',
        output: { result: task_name },
        completed_at: new Date().toISOString(),
        terminal_task_status: 'completed',
        credits,
        tags,
      }).expect(200);
      expect(done.body).toMatchObject({ processing_status: 'completed', credits, edited_status: 'not_edited' });
    }
    const completed = await patchStatus(org, run.id, 'completed');
    expect(completed.body.status).toBe('completed');

    const seen = await execution(org, run.id, { include_credits: 'true', include_run_number: 'true' });
    expect(seen).toMatchObject({ status: 'completed', total_credits: 6, run_number: 1, modified_by: 'user-worker' });

    const tagged = await t
      .http()
      .get(EXECUTIONS)
      .query({ flow_id: flowId, tags: 'priority:high', include_credits: true })
      .set(org.auth('app_user'))
      .expect(200);
    expect(tagged.body.map((e: { id: string; total_credits: number }) => [e.id, e.total_credits])).toEqual([[run.id, 6]]);
    const completedOnly = await t
      .http()
      .get(EXECUTIONS)
      .query({ flow_id: flowId, status: 'completed', tags_exclude: 'reviewer:bob' })
      .set(org.auth())
      .expect(200);
    expect(completedOnly.body.map((e: { id: string }) => e.id)).toEqual([run.id]);
    const untagged = await t.http().get(EXECUTIONS).query({ flow_id: flowId, tags_exclude: 'source:email' }).set(org.auth()).expect(200);
    expect(untagged.body.map((e: { id: string }) => e.id)).toEqual([bystander.id]);

    const tasks = await list(org, { flow_execution_id: run.id, include_credits: 'true' }).expect(200);
    expectSpecResponse('get', BASE, 200, tasks.body);
    expect(tasks.body.task_executions.map((te: TaskExecution) => [te.task_name, te.processing_status, te.credits, tagsOf(te), te.output])).toEqual([
      ['review', 'completed', null, ['reviewer:alice'], { result: 'review' }],
      ['extract', 'completed', 5, ['priority:high'], { result: 'extract' }],
      ['receive', 'completed', 1, ['source:email'], { result: 'receive' }],
    ]);
    const history = await t.dataSource.query('SELECT task_name, status FROM flow_task_statuses WHERE flow_execution_id = $1 ORDER BY created_at', [run.id]);
    expect(history).toEqual(steps.map(([task_name]) => ({ task_name, status: 'completed' })));

    const review = await getOne(org, tasks.body.task_executions[0].id, { include_credits: 'true' }).expect(200);
    expectSpecResponse('get', ONE, 200, review.body);
    expect(review.body).toEqual(tasks.body.task_executions[0]);
  });
});
