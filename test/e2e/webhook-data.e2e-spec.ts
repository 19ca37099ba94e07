import { randomUUID } from 'node:crypto';
import { createExecution, createFlow, TaskSpec, orgWithExecution } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { expectSpecResponse } from '../utils/spec';
import { newOrg } from '../utils/tokens';

const PATH = '/api/flow-executions/{flow_execution_id}/webhook-data';
const EXECUTIONS = '/api/flow-executions';
type Org = Awaited<ReturnType<typeof newOrg>>;
type Role = Parameters<Org['auth']>[0];

/** receive → approve (webhook, with an output model), inbox (webhook, any object), extract (no webhook). */
const TASKS: TaskSpec[] = [
  { name: 'receive', task_executor_name: 'receive_file' },
  {
    name: 'approve',
    task_executor_name: 'webhook_receiver',
    parameters: {
      document: '{{receive.document_url}}',
      fields: { approved: { type: 'boolean' }, notes: { type: 'string', default: '' }, amount: { type: 'number', minimum: 0 } },
    },
  },
  { name: 'inbox', task_executor_name: 'webhook_receiver', parameters: { after: '{{receive.document_url}}' } },
  { name: 'extract', task_executor_name: 'doc_to_structured', parameters: { document_url: '{{receive.document_url}}' } },
];

describe('POST /api/flow-executions/{id}/webhook-data', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  async function setup() {
    return orgWithExecution(t, TASKS);
  }

  const post = (org: Org, id: string, body: unknown, role: Role = 'integration') =>
    t
      .http()
      .post(`${EXECUTIONS}/${id}/webhook-data`)
      .set(org.auth(role))
      .send(body as object);
  const run = async (org: Org, id: string) => (await t.http().get(`${EXECUTIONS}/${id}`).set(org.auth()).expect(200)).body;
  const tasks = async (org: Org, id: string, taskName: string) =>
    (await t.http().get('/api/task-executions').query({ flow_execution_id: id, task_name: taskName }).set(org.auth()).expect(200)).body.task_executions;
  const createTask = (org: Org, id: string, taskName: string, processingStatus: string, idx = 0) =>
    t
      .http()
      .post('/api/task-executions')
      .set(org.auth('worker'))
      .send({ flow_execution_id: id, task_name: taskName, task_execution_idx: idx, processing_status: processingStatus });
  const reportStatus = (org: Org, id: string, taskName: string, status: string) =>
    t
      .http()
      .post(`${EXECUTIONS}/${id}/task-status`)
      .set(org.auth('worker'))
      .send({ statuses: [{ task_name: taskName, status }] })
      .expect(200);
  const patchStatus = (org: Org, id: string, status: string) =>
    t.http().patch(`${EXECUTIONS}/${id}/status`).query({ status }).set(org.auth('worker')).expect(200);

  /** A run waiting on `approve`: its task execution awaits input and the run is awaiting_input. */
  async function waitingRun() {
    const s = await setup();
    await createTask(s.org, s.id, 'approve', 'awaiting_input').expect(201);
    await reportStatus(s.org, s.id, 'approve', 'awaiting_input');
    expect((await run(s.org, s.id)).status).toBe('awaiting_input');
    return s;
  }

  const stored = async (id: string) =>
    t.dataSource.query(`SELECT task_name, data, task_execution_id, applied_at FROM webhook_data WHERE flow_execution_id = $1`, [id]);

  describe('a waiting task', () => {
    it('completes with the data, and the run returns to running', async () => {
      const { org, id } = await waitingRun();
      const data = { approved: true, notes: 'fine', amount: 12.5 };
      const res = await post(org, id, { task_name: 'approve', data }).expect(200);
      expectSpecResponse('post', PATH, 200, res.body);
      expect(res.body).toEqual({ id: expect.any(String), status: 'received' });

      const [task] = await tasks(org, id, 'approve');
      expect(task).toMatchObject({ processing_status: 'completed', output: data, modified_by: 'user-integration' });
      expect(task.completed_at).not.toBeNull();
      expect(await run(org, id)).toMatchObject({ status: 'running', modified_by: 'user-integration' });
      const [row] = await stored(id);
      expect(row).toMatchObject({ task_name: 'approve', data, task_execution_id: task.id });
      expect(row.applied_at).not.toBeNull();
    });

    it('answers the identical body again as a duplicate with the same id, even after the run finished', async () => {
      const { org, id } = await waitingRun();
      const first = await post(org, id, { task_name: 'approve', data: { approved: false, amount: 1 } }).expect(200);
      // Key order and spacing do not matter: the data is compared as JSON.
      const again = await post(org, id, { task_name: 'approve', data: { amount: 1, approved: false } }).expect(200);
      expectSpecResponse('post', PATH, 200, again.body);
      expect(again.body).toEqual({ id: first.body.id, status: 'duplicate' });

      await patchStatus(org, id, 'completed');
      const late = await post(org, id, { task_name: 'approve', data: { approved: false, amount: 1 } }, 'worker').expect(200);
      expect(late.body).toEqual({ id: first.body.id, status: 'duplicate' });
      expect(await stored(id)).toHaveLength(1);
    });

    it('refuses different data for the same task with 409: the first delivery wins', async () => {
      const { org, id } = await waitingRun();
      await post(org, id, { task_name: 'approve', data: { approved: true, amount: 3 } }).expect(200);
      const res = await post(org, id, { task_name: 'approve', data: { approved: false, amount: 3 } }).expect(409);
      expectSpecResponse('post', PATH, 409, res.body);
      expectEnvelope(res, 409, 'conflict');
      expect(res.body.error.message).toContain('first delivery wins');
      expect((await tasks(org, id, 'approve'))[0].output).toEqual({ approved: true, amount: 3 });
    });

    it('leaves a run waiting on another task waiting, and completes a live task that was not waiting', async () => {
      const { org, id } = await setup();
      await createTask(org, id, 'inbox', 'running').expect(201);
      await createTask(org, id, 'extract', 'awaiting_input').expect(201);
      await reportStatus(org, id, 'extract', 'awaiting_input');
      await post(org, id, { task_name: 'inbox', data: { anything: [1, 2] } }).expect(200);
      expect((await tasks(org, id, 'inbox'))[0]).toMatchObject({ processing_status: 'completed', output: { anything: [1, 2] } });
      expect((await run(org, id)).status).toBe('awaiting_input');
    });
  });

  describe('events', () => {
    type FeedEvent = {
      type: string;
      previous_status: string | null;
      flow_execution: { status: string };
      task_execution?: { task_name: string; processing_status: string; output: unknown };
    };
    const feed = async (org: Org): Promise<FeedEvent[]> => (await t.http().get('/api/flow-executions/events').set(org.auth()).expect(200)).body.events;
    const since = async (org: Org, before: number) => (await feed(org)).slice(before);

    it('the feed shows the task completing, then the run running again', async () => {
      const { org, id } = await waitingRun();
      const before = (await feed(org)).length;
      await post(org, id, { task_name: 'approve', data: { approved: true, amount: 4 } }).expect(200);
      const events = await since(org, before);
      expect(events.map((e) => [e.type, e.previous_status, e.flow_execution.status])).toEqual([
        ['task_execution.updated', null, 'awaiting_input'],
        ['flow_execution.status_changed', 'awaiting_input', 'running'],
      ]);
      expect(events[0].task_execution).toMatchObject({ task_name: 'approve', processing_status: 'completed', output: { approved: true, amount: 4 } });
      // A duplicate changes nothing, so it records nothing.
      await post(org, id, { task_name: 'approve', data: { approved: true, amount: 4 } }).expect(200);
      expect(await since(org, before)).toHaveLength(2);
    });

    it('stored data applied at the task’s creation shows as one task event with the data, then the run resuming', async () => {
      const { org, id } = await setup();
      await reportStatus(org, id, 'approve', 'awaiting_input');
      await post(org, id, { task_name: 'approve', data: { approved: false, amount: 5 } }).expect(200);
      const before = (await feed(org)).length;
      await createTask(org, id, 'approve', 'awaiting_input').expect(201);
      const events = await since(org, before);
      expect(events.map((e) => [e.type, e.flow_execution.status, e.task_execution?.processing_status ?? null])).toEqual([
        ['task_execution.updated', 'awaiting_input', 'completed'],
        ['flow_execution.status_changed', 'running', null],
      ]);
    });
  });

  describe('data before the task runs', () => {
    it('is stored, and completes the task when its execution is created', async () => {
      const { org, id } = await setup();
      const res = await post(org, id, { task_name: 'approve', data: { approved: true, amount: 0 } }).expect(200);
      expect(res.body.status).toBe('received');
      expect(await tasks(org, id, 'approve')).toEqual([]);
      expect((await stored(id))[0]).toMatchObject({ task_execution_id: null, applied_at: null });

      const created = await createTask(org, id, 'approve', 'queued').expect(201);
      expectSpecResponse('post', '/api/task-executions', 201, created.body);
      expect(created.body).toMatchObject({ processing_status: 'completed', output: { approved: true, amount: 0 } });
      expect((await stored(id))[0]).toMatchObject({ task_execution_id: created.body.id });
      expect((await run(org, id)).status).toBe('running');
      // Applied once: a later attempt of the task is left to its worker.
      const retry = await createTask(org, id, 'approve', 'queued', 1).expect(201);
      expect(retry.body).toMatchObject({ processing_status: 'queued', output: null });
    });

    it('resumes a run that was already awaiting input on that task', async () => {
      const { org, id } = await setup();
      await reportStatus(org, id, 'approve', 'awaiting_input');
      await post(org, id, { task_name: 'approve', data: { approved: false, amount: 2 } }).expect(200);
      expect((await run(org, id)).status).toBe('awaiting_input');
      const created = await createTask(org, id, 'approve', 'awaiting_input').expect(201);
      expect(created.body.processing_status).toBe('completed');
      expect((await run(org, id)).status).toBe('running');
    });

    it('is stored while the run is still queued', async () => {
      const org = await newOrg();
      await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 1 }).expect(200);
      const flowId = await createFlow(t, org.auth, TASKS);
      await createExecution(t, org.auth, flowId);
      const queued = await createExecution(t, org.auth, flowId);
      expect(queued.status).toBe('queued');
      await post(org, queued.id, { task_name: 'inbox', data: {} }).expect(200);
      expect(await stored(queued.id)).toHaveLength(1);
    });
  });

  describe('refusals', () => {
    it('409 when the run has finished, or the task has', async () => {
      const finished = await setup();
      await patchStatus(finished.org, finished.id, 'completed');
      const res = await post(finished.org, finished.id, { task_name: 'inbox', data: { a: 1 } }).expect(409);
      expectSpecResponse('post', PATH, 409, res.body);
      expect(res.body.error.message).toBe("The flow execution has already finished (status 'completed')");

      const cancelled = await setup();
      await t.http().post(`${EXECUTIONS}/${cancelled.id}/cancel`).set(cancelled.org.auth()).expect(204);
      await post(cancelled.org, cancelled.id, { task_name: 'inbox', data: { a: 1 } }).expect(409);

      const taskDone = await setup();
      await createTask(taskDone.org, taskDone.id, 'inbox', 'failed').expect(201);
      const done = await post(taskDone.org, taskDone.id, { task_name: 'inbox', data: { a: 1 } }).expect(409);
      expect(done.body.error.message).toContain("Task 'inbox' has already finished");
      expect(await stored(taskDone.id)).toEqual([]);
    });

    it('400 for a task that is not a webhook_receiver, 404 for a task the version lacks', async () => {
      const { org, id } = await setup();
      const plain = await post(org, id, { task_name: 'extract', data: {} }).expect(400);
      expectSpecResponse('post', PATH, 400, plain.body);
      expect(plain.body.error).toMatchObject({
        code: 'bad_request',
        message: "Task 'extract' is not a webhook_receiver task (its executor is 'doc_to_structured')",
      });
      const unknown = await post(org, id, { task_name: 'nope', data: {} }).expect(404);
      expectSpecResponse('post', PATH, 404, unknown.body);
      expect(unknown.body.error).toMatchObject({ code: 'not_found', message: "Task 'nope' not found in flow version 1 of this flow execution" });
      await post(org, 'not-a-uuid', { task_name: 'inbox', data: {} }).expect(400);
      expect(await stored(id)).toEqual([]);
    });

    it('422 naming the field when the data does not match the output model, and nothing is stored', async () => {
      const { org, id } = await waitingRun();
      const cases: [unknown, string[]][] = [
        [{ approved: 'yes', amount: 1 }, ['body.data.approved']],
        [{ amount: 1 }, ['body.data.approved']],
        [{ approved: true, amount: -1 }, ['body.data.amount']],
        [{ approved: true, amount: 1, extra: 'x' }, ['body.data.extra']],
      ];
      for (const [data, locs] of cases) {
        const res = await post(org, id, { task_name: 'approve', data }).expect(422);
        expectSpecResponse('post', PATH, 422, res.body);
        expectEnvelope(res, 422, 'validation_error');
        expect(res.body.detail.map((d: { loc: string[] }) => d.loc.join('.'))).toEqual(locs);
      }
      expect(await stored(id)).toEqual([]);
      expect((await run(org, id)).status).toBe('awaiting_input');
      // The default makes `notes` optional; the valid body is then the first and only one stored.
      expect((await post(org, id, { task_name: 'approve', data: { approved: true, amount: 1 } }).expect(200)).body.status).toBe('received');
    });

    it('422 for a body of the wrong shape', async () => {
      const { org, id } = await setup();
      const bodies: [unknown, string][] = [
        [{ data: {} }, 'body.task_name'],
        [{ task_name: 'inbox' }, 'body.data'],
        [{ task_name: 'inbox', data: [1] }, 'body.data'],
        [{ task_name: 'inbox', data: 'x' }, 'body.data'],
        [{ task_name: '', data: {} }, 'body.task_name'],
      ];
      for (const [body, loc] of bodies) {
        const res = await post(org, id, body).expect(422);
        expect(res.body.detail.map((d: { loc: string[] }) => d.loc.join('.'))).toEqual([loc]);
      }
      expect(await stored(id)).toEqual([]);
    });
  });

  describe('who may submit', () => {
    it('401 without credentials', async () => {
      const { id } = await setup();
      const res = await t.http().post(`${EXECUTIONS}/${id}/webhook-data`).send({ task_name: 'inbox', data: {} }).expect(401);
      expectEnvelope(res, 401, 'unauthorized');
      expect(await stored(id)).toEqual([]);
    });

    it.each(['org_admin', 'app_user', 'integration', 'publisher', 'worker', 'backoffice'] as Role[])('%s may submit', async (role) => {
      const { org, id } = await setup();
      expect((await post(org, id, { task_name: 'inbox', data: { by: role } }, role).expect(200)).body.status).toBe('received');
    });

    it('an organization API key may submit', async () => {
      const { org, id } = await setup();
      const account = await t.http().post('/api/service-accounts').set(org.auth()).send({ name: 'hooks', role: 'integration' }).expect(201);
      const key = await t.http().post(`/api/service-accounts/${account.body.id}/api-keys`).set(org.auth()).send({ name: 'k' }).expect(201);
      const res = await t
        .http()
        .post(`${EXECUTIONS}/${id}/webhook-data`)
        .set('X-API-Key', key.body.token)
        .send({ task_name: 'inbox', data: { a: 1 } });
      expect(res.status).toBe(200);
    });

    it('403 for another organization, with nothing of the run and nothing stored', async () => {
      const { org, id } = await waitingRun();
      const other = await newOrg();
      const res = await post(other, id, { task_name: 'approve', data: { approved: true, amount: 1 } }).expect(403);
      expectSpecResponse('post', PATH, 403, res.body);
      expectEnvelope(res, 403, 'forbidden');
      expect(JSON.stringify(res.body)).not.toContain('approve');
      expect(await stored(id)).toEqual([]);
      expect((await run(org, id)).status).toBe('awaiting_input');
    });

    it('404 for a missing or deleted run', async () => {
      const { org, id } = await setup();
      const missing = await post(org, randomUUID(), { task_name: 'inbox', data: {} }).expect(404);
      expectSpecResponse('post', PATH, 404, missing.body);
      await t.http().delete(`${EXECUTIONS}/${id}`).set(org.auth()).expect(204);
      const deleted = await post(org, id, { task_name: 'inbox', data: {} }).expect(404);
      expect(deleted.body.error).toMatchObject({ code: 'not_found', message: 'Flow execution not found' });
    });
  });

  describe('concurrent posts', () => {
    it('identical: one received, the others duplicate of the same id', async () => {
      const { org, id } = await waitingRun();
      const body = { task_name: 'approve', data: { approved: true, amount: 7 } };
      const responses = await Promise.all(Array.from({ length: 8 }, () => post(org, id, body)));
      expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(responses.filter((r) => r.body.status === 'received')).toHaveLength(1);
      expect(responses.filter((r) => r.body.status === 'duplicate')).toHaveLength(7);
      expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
      expect(await stored(id)).toHaveLength(1);
      expect((await run(org, id)).status).toBe('running');
    });

    it('different: one wins, the others 409, and the task holds the winner', async () => {
      const { org, id } = await waitingRun();
      const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => post(org, id, { task_name: 'approve', data: { approved: true, amount: i } })));
      const winners = responses.flatMap((r, i) => (r.status === 200 ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(responses.filter((r) => r.status === 409)).toHaveLength(7);
      expect(responses[winners[0]].body.status).toBe('received');
      expect((await tasks(org, id, 'approve'))[0]).toMatchObject({ processing_status: 'completed', output: { approved: true, amount: winners[0] } });
      expect(await stored(id)).toHaveLength(1);
    });

    it('data and the task’s creation racing: the data is applied either way', async () => {
      const { org, id } = await setup();
      const [posted, created] = await Promise.all([post(org, id, { task_name: 'inbox', data: { raced: true } }), createTask(org, id, 'inbox', 'running')]);
      expect([posted.status, created.status]).toEqual([200, 201]);
      expect((await tasks(org, id, 'inbox'))[0]).toMatchObject({ processing_status: 'completed', output: { raced: true } });
      expect((await stored(id))[0].task_execution_id).toBe(created.body.id);
    });
  });
});
