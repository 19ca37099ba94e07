import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';

type Org = Awaited<ReturnType<typeof newOrg>>;
const EXECUTIONS = '/api/flow-executions';

/**
 * Hostile access: callers that try to do more than their role allows, retries that would hand out a
 * secret again, webhook URLs that probe the internal network, and unknown API keys used to load
 * the database.
 */
describe('hostile access', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  describe('PATCH .../status: a worker reports progress, it does not decide for users', () => {
    const patch = (org: Org, id: string, status: string, role: 'worker' | 'backoffice' = 'worker') =>
      t.http().patch(`${EXECUTIONS}/${id}/status`).query({ status }).set(org.auth(role));
    const row = async (id: string) =>
      (await t.dataSource.query(`SELECT status, modified_by, updated_at FROM flow_executions WHERE id = $1`, [id]))[0] as { status: string; modified_by: string; updated_at: Date };
    const events = async (id: string) => Number((await t.dataSource.query(`SELECT count(*) FROM flow_events WHERE flow_execution_id = $1`, [id]))[0].count);

    /** A run in `status`, with its organization. */
    const runIn = async (status: 'running' | 'queued' | 'awaiting_input' | 'cancel_requested') => {
      const org = await newOrg();
      if (status === 'queued') await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 1 }).expect(200);
      const flowId = await createFlow(t, org.auth);
      if (status === 'queued') await createExecution(t, org.auth, flowId);
      const run = await createExecution(t, org.auth, flowId);
      if (status === 'awaiting_input') {
        await t.http().post(`${EXECUTIONS}/${run.id}/task-status`).set(org.auth('worker')).send({ statuses: [{ task_name: 'review', status: 'awaiting_input' }] }).expect(200);
      }
      if (status === 'cancel_requested') await t.http().post(`${EXECUTIONS}/${run.id}/cancel`).set(org.auth('app_user')).expect(204);
      expect((await row(run.id)).status).toBe(status);
      return { org, id: run.id };
    };

    it.each([
      ['running', 'deleted'],
      ['queued', 'deleted'],
      ['running', 'cancel_requested'],
      ['awaiting_input', 'cancel_requested'],
      ['queued', 'cancelled'],
    ] as const)('refuses a worker %s → %s with 403 naming executions:write, and changes nothing', async (from, to) => {
      const { org, id } = await runIn(from);
      const before = await row(id);
      const eventsBefore = await events(id);
      const res = await patch(org, id, to).expect(403);
      expect(res.body).toEqual({
        error: { code: 'forbidden', message: expect.stringContaining("needs permission 'executions:write'"), details: null },
        request_id: res.headers['x-request-id'],
      });
      expect(res.body.error.message).toContain(`from '${from}' to '${to}'`);
      expect(await row(id)).toEqual(before);
      expect(await events(id)).toBe(eventsBefore);
      // DELETE said so already; the status route now agrees.
      await t.http().delete(`${EXECUTIONS}/${id}`).set(org.auth('worker')).expect(403);
    });

    it.each([
      ['running', 'deleted'],
      ['running', 'cancel_requested'],
      ['queued', 'cancelled'],
    ] as const)('lets backoffice, which holds both permissions, move %s → %s', async (from, to) => {
      const { org, id } = await runIn(from);
      await patch(org, id, to, 'backoffice').expect(200);
      expect((await row(id)).status).toBe(to);
    });

    it('lets a worker acknowledge a cancellation and report progress', async () => {
      const cancelling = await runIn('cancel_requested');
      const ack = await patch(cancelling.org, cancelling.id, 'cancelled').expect(200);
      expect(ack.body).toMatchObject({ status: 'cancelled', modified_by: 'user-worker' });

      const running = await runIn('running');
      await patch(running.org, running.id, 'completed').expect(200);
      await patch(running.org, running.id, 'stale').expect(200);
    });

    it('judges the move on the current status: a worker cannot cancel a queued run, but acknowledges a requested cancellation', async () => {
      const queued = await runIn('queued');
      await patch(queued.org, queued.id, 'cancelled').expect(403);
      // The same request once the run has started and a user has asked to cancel it: allowed.
      const first = (await t.dataSource.query(`SELECT id FROM flow_executions WHERE organization_id = $1 AND status = 'running'`, [queued.org.id]))[0].id;
      await patch(queued.org, first, 'completed').expect(200);
      expect((await row(queued.id)).status).toBe('running');
      await t.http().post(`${EXECUTIONS}/${queued.id}/cancel`).set(queued.org.auth('app_user')).expect(204);
      await patch(queued.org, queued.id, 'cancelled').expect(200);
    });
  });
});
