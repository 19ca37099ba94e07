import { randomUUID } from 'node:crypto';
import { createExecution, createFlow, definitionOf, LINEAR_TASKS } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { expectSpecResponse } from '../utils/spec';
import { newOrg } from '../utils/tokens';

const BASE = '/api/flow-executions';
type Org = Awaited<ReturnType<typeof newOrg>>;

describe('flow execution lifecycle: status machine, cancel, re-execute, concurrency limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ DEFAULT_ORG_CONCURRENCY_LIMIT: '10' });
  });
  afterAll(() => t.close());

  const status = async (org: Org, id: string) => (await t.http().get(`${BASE}/${id}`).set(org.auth()).expect(200)).body.status as string;
  const patch = (org: Org, id: string, to: string) => t.http().patch(`${BASE}/${id}/status`).query({ status: to }).set(org.auth('worker'));
  const setLimit = (org: Org, limit: number) =>
    t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: limit }).expect(200);

  describe('PATCH /api/flow-executions/{id}/status', () => {
    it('drives queued → running → completed → edited, answering the execution each time', async () => {
      const org = await newOrg();
      await setLimit(org, 1);
      const flowId = await createFlow(t, org.auth);
      const first = await createExecution(t, org.auth, flowId);
      const second = await createExecution(t, org.auth, flowId);
      expect([first.status, second.status]).toEqual(['running', 'queued']);

      const done = await patch(org, first.id, 'completed').expect(200);
      expectSpecResponse('patch', `${BASE}/{flow_execution_id}/status`, 200, done.body);
      expect(done.body).toMatchObject({ id: first.id, status: 'completed', modified_by: 'user-worker' });
      expect(Date.parse(done.body.updated_at)).toBeGreaterThan(Date.parse(first.created_at));
      expect(await status(org, second.id)).toBe('running');
      await patch(org, first.id, 'edited').expect(200);
    });

    it('refuses every other move with 409 naming both statuses', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      await patch(org, e.id, 'failed').expect(200);
      const res = await patch(org, e.id, 'running').expect(409);
      expect(res.body.error).toMatchObject({ code: 'conflict', message: "Cannot change status from 'failed' to 'running'" });
      await patch(org, e.id, 'completed').expect(409);
      await patch(org, e.id, 'stale').expect(200);
    });

    it('refuses a queued → running start beyond the limit', async () => {
      const org = await newOrg();
      await setLimit(org, 1);
      const flowId = await createFlow(t, org.auth);
      await createExecution(t, org.auth, flowId);
      const waiting = await createExecution(t, org.auth, flowId);
      const res = await patch(org, waiting.id, 'running').expect(409);
      expect(res.body.error.message).toContain('concurrency limit');
    });

    it('answers 422 for an unknown status, 403 for callers without the report permission or of another org, 404 for deleted', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const bad = await patch(org, e.id, 'paused').expect(422);
      expect(bad.body.detail[0].loc).toEqual(['query', 'status']);
      await t.http().patch(`${BASE}/${e.id}/status`).query({ status: 'completed' }).set(org.auth('app_user')).expect(403);
      await t.http().patch(`${BASE}/${e.id}/status`).query({ status: 'completed' }).set(other.auth('worker')).expect(403);
      await t.http().patch(`${BASE}/${e.id}/status`).query({ status: 'completed' }).expect(401);
      await t.http().patch(`${BASE}/nope/status`).query({ status: 'completed' }).set(org.auth('worker')).expect(400);
      await t.http().delete(`${BASE}/${e.id}`).set(org.auth()).expect(204);
      await patch(org, e.id, 'completed').expect(404);
      expect(await t.dataSource.query('SELECT status FROM flow_executions WHERE id = $1', [e.id])).toEqual([{ status: 'deleted' }]);
    });

    it('lets exactly one of many concurrent workers win a move, and loses no update', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const targets = ['completed', 'failed', 'cancel_requested', 'completed', 'failed', 'cancel_requested', 'completed', 'failed'];
      // cancel_requested is a user's decision (backoffice), completed and failed a worker's reports.
      const by = (to: string) => (to === 'cancel_requested' ? 'backoffice' : 'worker');
      const results = await Promise.all(
        targets.map((to) =>
          t
            .http()
            .patch(`${BASE}/${e.id}/status`)
            .query({ status: to })
            .set(org.auth(by(to))),
        ),
      );
      const winners = results.filter((r) => r.status === 200);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(targets.length - 1);
      expect(await status(org, e.id)).toBe(winners[0].body.status);
    });
  });

  describe('POST /api/flow-executions/{id}/cancel', () => {
    it('asks a running execution to stop and cancels a queued one at once', async () => {
      const org = await newOrg();
      await setLimit(org, 1);
      const flowId = await createFlow(t, org.auth);
      const running = await createExecution(t, org.auth, flowId);
      const queued = await createExecution(t, org.auth, flowId);
      const third = await createExecution(t, org.auth, flowId);

      await t.http().post(`${BASE}/${queued.id}/cancel`).set(org.auth('app_user')).expect(204);
      expect(await status(org, queued.id)).toBe('cancelled');
      await t.http().post(`${BASE}/${running.id}/cancel`).set(org.auth()).expect(204);
      expect(await status(org, running.id)).toBe('cancel_requested');
      await t.http().post(`${BASE}/${running.id}/cancel`).set(org.auth()).expect(204);
      expect(await status(org, third.id)).toBe('queued');
      await patch(org, running.id, 'cancelled').expect(200);
      expect(await status(org, third.id)).toBe('running');
    });

    it('answers 409 from a terminal status, 404 deleted or unknown, 403 another organization or a worker', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      await patch(org, e.id, 'completed').expect(200);
      const res = await t.http().post(`${BASE}/${e.id}/cancel`).set(org.auth()).expect(409);
      expect(res.body.error.message).toBe("Cannot cancel a flow execution in status 'completed'");
      await t.http().post(`${BASE}/${e.id}/cancel`).set(other.auth()).expect(403);
      await t.http().post(`${BASE}/${e.id}/cancel`).set(org.auth('worker')).expect(403);
      await t.http().post(`${BASE}/${randomUUID()}/cancel`).set(org.auth()).expect(404);
      await t.http().post(`${BASE}/bad/cancel`).set(org.auth()).expect(400);
    });
  });

  describe('POST /api/flow-executions/{id}/execute', () => {
    it('re-runs on the latest version, keeps the run number, and queues when no slot is free', async () => {
      const org = await newOrg();
      await setLimit(org, 1);
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      await patch(org, e.id, 'failed').expect(200);
      await t
        .http()
        .put(`/api/flows/${flowId}/definition`)
        .set(org.auth())
        .send({ definition: definitionOf(LINEAR_TASKS) })
        .expect(200);

      await t.http().post(`${BASE}/${e.id}/execute`).set(org.auth('integration')).expect(204);
      const rerun = await t.http().get(`${BASE}/${e.id}`).query({ include_run_number: true }).set(org.auth()).expect(200);
      expect(rerun.body).toMatchObject({ status: 'running', flow_version: 2, run_number: 1 });

      const other = await createExecution(t, org.auth, flowId);
      await patch(org, e.id, 'completed').expect(200);
      expect(await status(org, other.id)).toBe('running');
      await t.http().post(`${BASE}/${e.id}/execute`).query({ only_stale: 'true' }).set(org.auth()).expect(204);
      expect(await status(org, e.id)).toBe('queued');
    });

    it('answers 409 while cancel_requested, 404 deleted, 403 another organization, 422 bad only_stale', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      await t.http().post(`${BASE}/${e.id}/cancel`).set(org.auth()).expect(204);
      const res = await t.http().post(`${BASE}/${e.id}/execute`).set(org.auth()).expect(409);
      expectEnvelope(res, 409, 'conflict');
      await t.http().post(`${BASE}/${e.id}/execute`).set(other.auth()).expect(403);
      await t.http().post(`${BASE}/${e.id}/execute`).query({ only_stale: 'sometimes' }).set(org.auth()).expect(422);
      await t.http().delete(`${BASE}/${e.id}`).set(org.auth()).expect(204);
      await t.http().post(`${BASE}/${e.id}/execute`).set(org.auth()).expect(404);
    });
  });

  describe('concurrency limit', () => {
    it('shows and changes the limit (org_admin only); raising it admits waiting executions oldest first', async () => {
      const org = await newOrg();
      const initial = await t.http().get('/api/organizations/settings').set(org.auth()).expect(200);
      expect(initial.body).toEqual({ organization_id: org.id, max_concurrent_executions: 10, running_executions: 0, queued_executions: 0 });
      await t.http().get('/api/organizations/settings').set(org.auth('app_user')).expect(403);
      await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 0 }).expect(422);

      await setLimit(org, 1);
      const flowId = await createFlow(t, org.auth);
      const executions = [];
      for (let i = 0; i < 4; i++) executions.push(await createExecution(t, org.auth, flowId));
      const raised = await setLimit(org, 3);
      expect(raised.body).toMatchObject({ max_concurrent_executions: 3, running_executions: 3, queued_executions: 1 });
      expect(await Promise.all(executions.map((e) => status(org, e.id)))).toEqual(['running', 'running', 'running', 'queued']);
    });

    it('never runs more than the limit and skips no waiting execution under concurrent creates and completions', async () => {
      const org = await newOrg();
      const limit = 3;
      await setLimit(org, limit);
      const flowId = await createFlow(t, org.auth);
      const running = async () =>
        Number((await t.dataSource.query(`SELECT count(*) AS n FROM flow_executions WHERE organization_id = $1 AND status = 'running'`, [org.id]))[0].n);

      const created = await Promise.all(Array.from({ length: 12 }, (_, i) => createExecution(t, org.auth, flowId, { i })));
      expect(created.filter((e) => e.status === 'running')).toHaveLength(limit);
      expect(await running()).toBe(limit);

      const finished = new Set<string>();
      for (let round = 0; round < 6 && finished.size < created.length; round++) {
        const rows: { id: string }[] = await t.dataSource.query(`SELECT id FROM flow_executions WHERE organization_id = $1 AND status = 'running'`, [org.id]);
        // Complete what runs while new executions arrive at the same time.
        const more = Promise.all([createExecution(t, org.auth, flowId), createExecution(t, org.auth, flowId)]);
        await Promise.all(rows.map((r) => patch(org, r.id, 'completed').expect(200)));
        (await more).forEach((e) => created.push(e));
        rows.forEach((r) => finished.add(r.id));
        expect(await running()).toBeLessThanOrEqual(limit);

        // The ones running now must be the oldest of all that still wait or run.
        const active: { id: string; status: string }[] = await t.dataSource.query(
          `SELECT id, status FROM flow_executions WHERE organization_id = $1 AND status IN ('running', 'queued') ORDER BY created_at, id`,
          [org.id],
        );
        const firstQueued = active.findIndex((r) => r.status === 'queued');
        if (firstQueued >= 0) {
          expect(active.slice(0, firstQueued).every((r) => r.status === 'running')).toBe(true);
          expect(active.slice(firstQueued).every((r) => r.status === 'queued')).toBe(true);
          expect(firstQueued).toBe(limit);
        }
      }
    });
  });

  describe('POST /api/flow-executions/{id}/task-status', () => {
    it('records a batch as history and moves the execution to awaiting_input when a task waits', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const res = await t
        .http()
        .post(`${BASE}/${e.id}/task-status`)
        .set(org.auth('worker'))
        .send({
          statuses: [
            { task_name: 'receive', status: 'completed' },
            { task_name: 'extract', status: 'running' },
            { task_name: 'extract', status: 'awaiting_input' },
          ],
        })
        .expect(200);
      expectSpecResponse('post', `${BASE}/{flow_execution_id}/task-status`, 200, res.body);
      expect(res.body.map((s: { task_name: string; status: string }) => `${s.task_name}:${s.status}`)).toEqual([
        'receive:completed',
        'extract:running',
        'extract:awaiting_input',
      ]);
      expect(res.body.every((s: { organization_id: string; flow_execution_id: string }) => s.organization_id === org.id && s.flow_execution_id === e.id)).toBe(
        true,
      );
      expect(await status(org, e.id)).toBe('awaiting_input');
      await t.http().post(`${BASE}/${e.id}/cancel`).set(org.auth()).expect(204);
      expect(await status(org, e.id)).toBe('cancel_requested');
    });

    it('refuses unknown task names (400, nothing recorded), bad items (422), app users (403) and other organizations (403)', async () => {
      const org = await newOrg();
      const other = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const e = await createExecution(t, org.auth, flowId);
      const send = (body: unknown, who = org.auth('worker')) =>
        t
          .http()
          .post(`${BASE}/${e.id}/task-status`)
          .set(who)
          .send(body as object);
      const unknown = await send({
        statuses: [
          { task_name: 'receive', status: 'completed' },
          { task_name: 'ghost', status: 'running' },
        ],
      }).expect(400);
      expect(unknown.body.error.message).toContain('ghost');
      expect(await t.dataSource.query('SELECT count(*)::int AS n FROM flow_task_statuses WHERE flow_execution_id = $1', [e.id])).toEqual([{ n: 0 }]);
      await send({ statuses: [] }).expect(422);
      await send({ statuses: Array.from({ length: 101 }, () => ({ task_name: 'receive', status: 'running' })) }).expect(422);
      const badStatus = await send({ statuses: [{ task_name: 'receive', status: 'exploded' }] }).expect(422);
      expect(badStatus.body.detail[0].loc).toEqual(['body', 'statuses', 0, 'status']);
      await send({ statuses: [{ task_name: 'receive', status: 'running' }] }, org.auth('app_user')).expect(403);
      await send({ statuses: [{ task_name: 'receive', status: 'running' }] }, other.auth('worker')).expect(403);
    });
  });
});
