import { randomUUID } from 'node:crypto';
import { createExecution, createFlow, definitionOf, LINEAR_TASKS } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';
import { eventually } from '../utils/eventually';

type Org = Awaited<ReturnType<typeof newOrg>>;

describe('liveness: heartbeats and timeouts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ LIVENESS_SWEEP_INTERVAL_MS: '100' });
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
      expect(res.body).toEqual({
        task_execution_id: task.id,
        lease_expires_at: null,
        cancel_requested: false,
        flow_execution_status: 'running',
        traceparent: null,
        tracestate: null,
      });
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

  describe('timeouts', () => {
    type FeedEvent = {
      type: string;
      reason?: string;
      previous_status: string | null;
      flow_execution: { id: string; status: string };
      task_execution?: { id: string; processing_status: string; error: { code: string } };
    };
    const run = async (org: Org, id: string) => (await t.http().get(`/api/flow-executions/${id}`).set(org.auth()).expect(200)).body as { status: string };
    const task = async (org: Org, id: string) =>
      (await t.http().get(`/api/task-executions/${id}`).set(org.auth()).expect(200)).body as {
        processing_status: string;
        error: Record<string, unknown> | null;
        modified_by: string;
      };
    const feed = async (org: Org) => (await t.http().get('/api/flow-executions/events').set(org.auth()).expect(200)).body.events as FeedEvent[];
    const ended = (org: Org, id: string) =>
      eventually(
        () => run(org, id),
        (r) => !['running', 'awaiting_input', 'cancel_requested'].includes(r.status),
        20_000,
      );

    it('a task without heartbeats fails with heartbeat_timeout, its run fails, and the oldest waiting run is admitted, events in order', async () => {
      // Both runs before the task: no timeout can free the slot before the second one waits.
      const org = await newOrg();
      await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 1 }).expect(200);
      const flow = await t
        .http()
        .post('/api/flows')
        .set(org.auth())
        .send({ display_name: 'Live', definition: definitionOf(LINEAR_TASKS), settings: { timeouts: { task_heartbeat_seconds: 1 } } })
        .expect(201);
      const execution = await createExecution(t, org.auth, flow.body.id);
      const waiting = await createExecution(t, org.auth, flow.body.id);
      const stuck = (
        await t
          .http()
          .post('/api/task-executions')
          .set(org.auth('worker'))
          .send({ flow_execution_id: execution.id, task_name: 'extract', task_execution_idx: 0, processing_status: 'running' })
          .expect(201)
      ).body as { id: string };
      expect(waiting.status).toBe('queued');

      expect((await ended(org, execution.id)).status).toBe('failed');
      const failed = await task(org, stuck.id);
      expect(failed).toMatchObject({ processing_status: 'failed', modified_by: 'liveness', error: { code: 'heartbeat_timeout', heartbeat_seconds: 1 } });
      expect((await run(org, waiting.id)).status).toBe('running');

      const events = (await feed(org)).filter((e) => e.type !== 'flow_execution.created' && e.type !== 'task_execution.updated');
      expect(events.map((e) => [e.type, e.flow_execution.id, e.previous_status, e.flow_execution.status, e.reason])).toEqual([
        ['task_execution.timed_out', execution.id, null, 'running', 'heartbeat_timeout'],
        ['flow_execution.status_changed', execution.id, 'running', 'failed', 'heartbeat_timeout'],
        ['flow_execution.status_changed', waiting.id, 'queued', 'running', 'admit'],
      ]);
      expect(events[0].task_execution).toMatchObject({ id: stuck.id, processing_status: 'failed', error: { code: 'heartbeat_timeout' } });
    });

    it('never times out a task that keeps heartbeating, and takes reports as heartbeats', async () => {
      const { org, execution, task: live } = await runningTask({ timeouts: { task_heartbeat_seconds: 1 } });
      const until = Date.now() + 3_000;
      for (let i = 0; Date.now() < until; i++) {
        if (i % 2) await heartbeat(org, live.id, { details: { i } }).expect(200);
        else
          await t
            .http()
            .put('/api/task-executions')
            .set(org.auth('worker'))
            .send({ flow_execution_id: execution.id, task_name: 'extract', task_execution_idx: 0, processing_status: 'running', output: { i } })
            .expect(200);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect((await task(org, live.id)).processing_status).toBe('running');
      expect((await run(org, execution.id)).status).toBe('running');
    });

    it('a task running past its own seconds fails with task_timeout even while heartbeating', async () => {
      const { org, execution, task: slow } = await runningTask({ timeouts: { task_heartbeat_seconds: 60, tasks: { extract: { seconds: 1 } } } });
      await eventually(
        async () => (await heartbeat(org, slow.id)).status,
        (status) => status === 409,
        20_000,
      );
      expect((await task(org, slow.id)).error).toMatchObject({ code: 'task_timeout' });
      expect(await run(org, execution.id)).toMatchObject({ status: 'failed' });
    });

    it('a cancel no worker acknowledges ends cancelled after cancel_seconds; heartbeats said so meanwhile', async () => {
      const { org, execution, task: working } = await runningTask({ timeouts: { cancel_seconds: 1 } });
      await t.http().post(`/api/flow-executions/${execution.id}/cancel`).set(org.auth()).expect(204);
      expect((await heartbeat(org, working.id).expect(200)).body.cancel_requested).toBe(true);
      expect((await ended(org, execution.id)).status).toBe('cancelled');
      const last = (await feed(org)).pop()!;
      expect([last.type, last.previous_status, last.flow_execution.status, last.reason]).toEqual([
        'flow_execution.status_changed',
        'cancel_requested',
        'cancelled',
        'cancel_timeout',
      ]);
      expect((await heartbeat(org, working.id).expect(200)).body).toMatchObject({ cancel_requested: true, flow_execution_status: 'cancelled' });
    });

    it('a run already asked to cancel ends cancelled whichever timeout fires', async () => {
      const { org, execution, task: stuck } = await runningTask({ timeouts: { task_heartbeat_seconds: 1 } });
      await t.http().post(`/api/flow-executions/${execution.id}/cancel`).set(org.auth()).expect(204);
      expect((await ended(org, execution.id)).status).toBe('cancelled');
      expect((await task(org, stuck.id)).error).toMatchObject({ code: 'heartbeat_timeout' });
      expect((await feed(org)).pop()!.reason).toBe('heartbeat_timeout');
    });

    it("times out a deleted run's task without an event, so that it does not stay due", async () => {
      const { org, execution, task: orphan } = await runningTask({ timeouts: { task_heartbeat_seconds: 1 } });
      await t.http().delete(`/api/flow-executions/${execution.id}`).set(org.auth()).expect(204);
      await eventually(
        async () => (await t.dataSource.query(`SELECT processing_status FROM task_executions WHERE id = $1`, [orphan.id]))[0].processing_status as string,
        (status) => status === 'failed',
        20_000,
      );
      expect((await feed(org)).map((e) => e.type)).toEqual(['flow_execution.created', 'task_execution.updated', 'flow_execution.deleted']);
    });

    it('execution_seconds fails a run with reason execution_timeout; awaiting_input_seconds one waiting for input', async () => {
      const org = await newOrg();
      const make = async (timeouts: Record<string, number>) => {
        const flow = await t
          .http()
          .post('/api/flows')
          .set(org.auth())
          .send({ display_name: 'T', definition: definitionOf(LINEAR_TASKS), settings: { timeouts } })
          .expect(201);
        return createExecution(t, org.auth, flow.body.id);
      };
      const long = await make({ execution_seconds: 1 });
      const waiting = await make({ awaiting_input_seconds: 1 });
      await t
        .http()
        .post(`/api/flow-executions/${waiting.id}/task-status`)
        .set(org.auth('worker'))
        .send({ statuses: [{ task_name: 'review', status: 'awaiting_input' }] })
        .expect(200);
      expect((await ended(org, long.id)).status).toBe('failed');
      expect((await ended(org, waiting.id)).status).toBe('failed');
      const reasons = (await feed(org)).filter((e) => e.flow_execution.status === 'failed').map((e) => [e.flow_execution.id, e.previous_status, e.reason]);
      expect(reasons).toEqual(
        expect.arrayContaining([
          [long.id, 'running', 'execution_timeout'],
          [waiting.id, 'awaiting_input', 'awaiting_input_timeout'],
        ]),
      );
      expect(reasons).toHaveLength(2);
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
