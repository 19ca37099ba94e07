import { randomUUID } from 'node:crypto';
import { createExecution, createFlow, definitionOf, LINEAR_TASKS } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';

type Org = Awaited<ReturnType<typeof newOrg>>;

describe('liveness: heartbeats and timeouts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const heartbeat = (org: Org, id: string, body?: Record<string, unknown>, role: 'worker' | 'app_user' | 'backoffice' = 'worker') => {
    const req = t.http().post(`/api/task-executions/${id}/heartbeat`).set(org.auth(role));
    return body === undefined ? req : req.send(body);
  };

  /** A fresh organization, a flow with the given settings, a running execution and its running `extract` task. */
  async function runningTask(settings?: Record<string, unknown>) {
    const org = await newOrg();
    const res = await t
      .http()
      .post('/api/flows')
      .set(org.auth())
      .send({ display_name: 'Live', definition: definitionOf(LINEAR_TASKS), settings });
    if (res.status !== 201) throw new Error(`flow: ${res.status} ${JSON.stringify(res.body)}`);
    const execution = await createExecution(t, org.auth, res.body.id);
    const task = await t
      .http()
      .post('/api/task-executions')
      .set(org.auth('worker'))
      .send({ flow_execution_id: execution.id, task_name: 'extract', task_execution_idx: 0, processing_status: 'running' })
      .expect(201);
    return { org, flowId: res.body.id as string, execution, task: task.body as { id: string } };
  }

  describe('POST /api/task-executions/{task_execution_id}/heartbeat', () => {
    it('answers the lease, the run status and no cancellation; without timeouts the lease is null', async () => {
      const { org, execution, task } = await runningTask();
      const res = await heartbeat(org, task.id).expect(200);
      expect(res.body).toEqual({ task_execution_id: task.id, lease_expires_at: null, cancel_requested: false, flow_execution_status: 'running' });
      expect(execution.status).toBe('running');
    });

    it('moves the lease forward with each heartbeat and keeps details', async () => {
      const { org, task } = await runningTask({ timeouts: { task_heartbeat_seconds: 60 } });
      const first = await heartbeat(org, task.id, { details: { step: 1 } }).expect(200);
      expect(Date.parse(first.body.lease_expires_at)).toBeGreaterThan(Date.now() + 30_000);
      const second = await heartbeat(org, task.id, { details: { step: 2 } }).expect(200);
      expect(Date.parse(second.body.lease_expires_at)).toBeGreaterThan(Date.parse(first.body.lease_expires_at));
      const [row] = await t.dataSource.query(`SELECT heartbeat_details FROM task_executions WHERE id = $1`, [task.id]);
      expect(row.heartbeat_details).toEqual({ step: 2 });
      await heartbeat(org, task.id).expect(200);
      const [kept] = await t.dataSource.query(`SELECT heartbeat_details FROM task_executions WHERE id = $1`, [task.id]);
      expect(kept.heartbeat_details).toEqual({ step: 2 });
    });

    it('reports cancel_requested once the run is asked to cancel', async () => {
      const { org, execution, task } = await runningTask();
      await t.http().post(`/api/flow-executions/${execution.id}/cancel`).set(org.auth()).expect(204);
      const res = await heartbeat(org, task.id).expect(200);
      expect(res.body).toMatchObject({ cancel_requested: true, flow_execution_status: 'cancel_requested' });
    });

    it('answers 409 for a finished task, 404 for an unknown one, 403 for another organization or a role without executions:report', async () => {
      const { org, execution, task } = await runningTask();
      const other = await newOrg();
      await heartbeat(other, task.id).expect(403);
      await heartbeat(org, task.id, undefined, 'app_user').expect(403);
      await heartbeat(org, randomUUID()).expect(404);
      await heartbeat(org, 'nope').expect(400);
      await t
        .http()
        .put('/api/task-executions')
        .set(org.auth('worker'))
        .send({ flow_execution_id: execution.id, task_name: 'extract', task_execution_idx: 0, processing_status: 'completed' })
        .expect(200);
      const res = await heartbeat(org, task.id).expect(409);
      expect(res.body.error).toMatchObject({ code: 'conflict', details: { processing_status: 'completed' } });
    });

    it('refuses details over 64 KiB with a 422 naming the field, and writes nothing', async () => {
      const { org, task } = await runningTask();
      const res = await heartbeat(org, task.id, { details: 'x'.repeat(64 * 1024) }).expect(422);
      expect(res.body.detail[0].loc).toEqual(['body', 'details']);
      const [row] = await t.dataSource.query(`SELECT heartbeat_details FROM task_executions WHERE id = $1`, [task.id]);
      expect(row.heartbeat_details).toBeNull();
    });
  });

  describe('settings.timeouts', () => {
    const flowWith = (org: Org, settings: unknown) =>
      t
        .http()
        .post('/api/flows')
        .set(org.auth())
        .send({ display_name: 'Timeouts', definition: definitionOf(LINEAR_TASKS), settings });

    it('stores and returns every timeout, null where unset', async () => {
      const org = await newOrg();
      const timeouts = { execution_seconds: 3600, task_heartbeat_seconds: 30, cancel_seconds: 60, tasks: { review: { seconds: 600 } } };
      const res = await flowWith(org, { timeouts }).expect(201);
      expect(res.body.settings.timeouts).toEqual({
        execution_seconds: 3600,
        task_heartbeat_seconds: 30,
        task_seconds: null,
        cancel_seconds: 60,
        awaiting_input_seconds: null,
        tasks: { review: { heartbeat_seconds: null, seconds: 600 } },
      });
      const patched = await t
        .http()
        .patch(`/api/flows/${res.body.id}`)
        .set(org.auth())
        .send({ settings: { timeouts: { awaiting_input_seconds: 5 } } })
        .expect(200);
      expect(patched.body.settings.timeouts).toMatchObject({ execution_seconds: null, awaiting_input_seconds: 5, tasks: {} });
    });

    it.each([
      [{ execution_seconds: 0 }, ['body', 'settings', 'timeouts', 'execution_seconds']],
      [{ task_seconds: 1.5 }, ['body', 'settings', 'timeouts', 'task_seconds']],
      [{ cancel_seconds: 10_000_000 }, ['body', 'settings', 'timeouts', 'cancel_seconds']],
      [{ task_heartbeat_seconds: '30' }, ['body', 'settings', 'timeouts', 'task_heartbeat_seconds']],
      [{ tasks: { nope: { seconds: 5 } } }, ['body', 'settings', 'timeouts', 'tasks', 'nope']],
      [{ tasks: { extract: { heartbeat_seconds: -1 } } }, ['body', 'settings', 'timeouts', 'tasks', 'extract', 'heartbeat_seconds']],
      [{ tasks: [] }, ['body', 'settings', 'timeouts', 'tasks']],
    ])('refuses %j with a 422 naming the field', async (timeouts, loc) => {
      const org = await newOrg();
      const res = await flowWith(org, { timeouts }).expect(422);
      expect(res.body.detail.map((d: { loc: unknown }) => d.loc)).toContainEqual(loc);
    });

    it('refuses a task timeout naming no task of the flow on PATCH too, and changes nothing', async () => {
      const org = await newOrg();
      const id = await createFlow(t, org.auth);
      const res = await t
        .http()
        .patch(`/api/flows/${id}`)
        .set(org.auth())
        .send({ settings: { timeouts: { tasks: { ghost: { seconds: 5 } } } } })
        .expect(422);
      expect(res.body.detail[0].loc).toEqual(['body', 'settings', 'timeouts', 'tasks', 'ghost']);
      const flow = await t.http().get(`/api/flows/${id}`).set(org.auth()).expect(200);
      expect(flow.body.settings).toBeNull();
    });
  });
});
