import { randomUUID } from 'node:crypto';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { ServerProcess, startServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';
import { eventually } from '../utils/eventually';
import { WebhookReceiver } from '../utils/webhook-receiver';

jest.setTimeout(180_000);

const BULK = '/api/bulk-actions';
const RUNS = '/api/flow-executions';
type Org = Awaited<ReturnType<typeof newOrg>>;
type Action = { id: string; status: string; matched: number; processed: number; succeeded: number; failed: number; finished_at: string | null };
type Item = { flow_execution_id: string; outcome: string; error: { code: string; message: string } | null };

describe('bulk actions', () => {
  // No worker here: actions stay queued until a test starts a replica that works them.
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ BULK_ACTION_WORKER: 'false', WEBHOOK_ALLOW_PRIVATE_URLS: 'true', BULK_ACTIONS_PER_ORG: '2', BULK_ACTION_MAX_RUNS: '2500' });
  });
  afterAll(() => t.close());
  /** A replica with the worker, for the time of `work`. */
  const withWorker = async <T>(work: () => Promise<T>, env: Record<string, string> = {}): Promise<T> => {
    const w = await createTestApp({ BULK_ACTION_BATCH_SIZE: '100', ...env });
    try {
      return await work();
    } finally {
      await w.close();
    }
  };

  const statuses = async (flowId: string): Promise<Map<string, string>> =>
    new Map(
      ((await t.dataSource.query(`SELECT id, status FROM flow_executions WHERE flow_id = $1`, [flowId])) as { id: string; status: string }[]).map((r) => [
        r.id,
        r.status,
      ]),
    );
  /** `n` runs of the flow, created by the service's own create path, in one statement. */
  const manyRuns = async (org: Org, flowId: string, n: number) =>
    t.dataSource.query(
      `SELECT count(*) FROM (SELECT (start_flow_execution($1, $2, 1, '{"file_key": "a.pdf"}'::jsonb, 'receive', NULL, 'seed', 10, NULL, NULL)).id FROM generate_series(1, $3::int)) x`,
      [org.id, flowId, n],
    );
  const get = async (app: TestApp, org: Org, id: string): Promise<Action> => (await app.http().get(`${BULK}/${id}`).set(org.auth()).expect(200)).body;
  const finished = (app: TestApp, org: Org, id: string, timeoutMs = 120_000) =>
    eventually(
      () => get(app, org, id),
      (a) => a.finished_at !== null,
      timeoutMs,
    );
  const allItems = async (app: TestApp, org: Org, id: string, outcome?: string): Promise<Item[]> => {
    const items: Item[] = [];
    let after: string | null = '0';
    while (after !== null) {
      const query: Record<string, string | number> = { limit: 1000, after, ...(outcome ? { outcome } : {}) };
      const page: { items: Item[]; next_cursor: string | null } = (await app.http().get(`${BULK}/${id}/items`).query(query).set(org.auth()).expect(200)).body;
      items.push(...page.items);
      after = page.next_cursor;
    }
    return items;
  };

  it('dry run: 200 with matched and a sample, and changes nothing', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const runs = [];
    for (let i = 0; i < 12; i++) runs.push(await createExecution(t, org.auth, flowId));
    const before = await statuses(flowId);
    const res = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'cancel', selection: { flow_id: flowId, status: ['queued'] }, dry_run: true })
      .expect(200);
    expect(res.body).toMatchObject({ action: 'cancel', dry_run: true, matched: 2, selection: { flow_id: flowId, status: ['queued'] } });
    expect(res.body.sample.map((r: { id: string }) => r.id)).toEqual([runs[10].id, runs[11].id]);
    const all = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'delete', selection: { flow_id: flowId }, dry_run: 'yes' })
      .expect(422);
    expect(all.body.detail[0].loc).toEqual(['body', 'dry_run']);
    const wide = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'delete', selection: { flow_id: flowId }, dry_run: true })
      .expect(200);
    expect([wide.body.matched, wide.body.sample.length]).toEqual([12, 10]);
    // With an Idempotency-Key, the replay answers the dry run's 200 too.
    const keyed = () =>
      t
        .http()
        .post(BULK)
        .set(org.auth())
        .set('Idempotency-Key', 'dry-run-1')
        .send({ action: 'delete', selection: { flow_id: flowId }, dry_run: true });
    expect((await keyed()).status).toBe(200);
    const replay = await keyed();
    expect([replay.status, replay.headers['idempotent-replayed'], replay.body.matched]).toEqual([200, 'true', 12]);
    expect(await statuses(flowId)).toEqual(before);
    expect((await t.http().get(BULK).set(org.auth()).expect(200)).body.bulk_actions).toEqual([]);
  });

  it('cancels exactly the frozen set of 2,000 runs while new runs are created, each through the lifecycle, with bulk_action.completed in the feed and to webhooks', async () => {
    const org = await newOrg();
    const receiver = await WebhookReceiver.start(() => 200);
    try {
      await t
        .http()
        .post('/api/webhooks')
        .set(org.auth())
        .send({ url: receiver.url(), event_types: ['bulk_action.completed'] })
        .expect(201);
      const flowId = await createFlow(t, org.auth);
      await manyRuns(org, flowId, 2000);
      const frozen = await statuses(flowId);
      expect(frozen.size).toBe(2000);

      const key = randomUUID();
      const send = () =>
        t
          .http()
          .post(BULK)
          .set(org.auth('app_user'))
          .set('Idempotency-Key', key)
          .send({ action: 'cancel', selection: { flow_id: flowId } });
      const created = await send().expect(202);
      expect(created.body).toMatchObject({ action: 'cancel', matched: 2000, selection: { flow_id: flowId } });
      expect(created.body.status).toBe('queued');
      const later: string[] = [];
      for (let i = 0; i < 5; i++) later.push((await createExecution(t, org.auth, flowId)).id);
      const replay = await send().expect(202);
      expect([replay.headers['idempotent-replayed'], replay.body.id]).toEqual(['true', created.body.id]);

      const done = await withWorker(async () => {
        // Runs that start meanwhile are not part of it.
        for (let i = 0; i < 20; i++) later.push((await createExecution(t, org.auth, flowId)).id);
        return finished(t, org, created.body.id);
      });
      expect(done).toMatchObject({ status: 'completed', matched: 2000, processed: 2000, succeeded: 2000, failed: 0 });
      const items = await allItems(t, org, created.body.id);
      expect(new Set(items.map((i) => i.flow_execution_id))).toEqual(new Set(frozen.keys()));
      expect(items.every((i) => i.outcome === 'succeeded')).toBe(true);

      const after = await statuses(flowId);
      for (const [id, before] of frozen) expect([id, after.get(id)]).toEqual([id, before === 'queued' ? 'cancelled' : 'cancel_requested']);
      for (const id of later) expect(after.get(id)).toBe('queued');
      // One status event per run, named as the single-run endpoint names it.
      const reasons: { n: number }[] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM flow_events WHERE organization_id = $1 AND type = 'flow_execution.status_changed' AND payload->>'reason' = 'cancel'`,
        [org.id],
      );
      expect(reasons[0].n).toBe(2000);

      const feed = (await t.http().get(`${RUNS}/events`).query({ limit: 1000, after: '0' }).set(org.auth()).expect(200)).body;
      void feed;
      const completed: { type: string; bulk_action: Action }[] = await t.dataSource
        .query(`SELECT id::text FROM flow_events WHERE organization_id = $1 AND type = 'bulk_action.completed'`, [org.id])
        .then(async (rows: { id: string }[]) => {
          const page = await t
            .http()
            .get(`${RUNS}/events`)
            .query({ after: String(BigInt(rows[0].id) - 1n), limit: 1 })
            .set(org.auth())
            .expect(200);
          return page.body.events;
        });
      expect(completed[0]).toMatchObject({ type: 'bulk_action.completed', bulk_action: { id: created.body.id, status: 'completed', succeeded: 2000 } });
      const delivered = await eventually(
        async () => receiver.received,
        (r) => r.length > 0,
      );
      expect(JSON.parse(delivered[0].body)).toMatchObject({ type: 'bulk_action.completed', bulk_action: { id: created.body.id } });
    } finally {
      await receiver.close();
    }
  });

  it('records each run’s outcome: refusals are failed items with the error, the rest go on', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const [a, b, c] = [await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId), await createExecution(t, org.auth, flowId)];
    await t.http().patch(`${RUNS}/${a.id}/status`).query({ status: 'failed' }).set(org.auth('worker')).expect(200);
    await t.http().patch(`${RUNS}/${b.id}/status`).query({ status: 'completed' }).set(org.auth('worker')).expect(200);
    const created = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'redrive', selection: { flow_id: flowId } })
      .expect(202);
    const done = await withWorker(() => finished(t, org, created.body.id));
    expect(done).toMatchObject({ status: 'completed', matched: 3, processed: 3, succeeded: 1, failed: 2 });
    const refused = await t.http().post(`${BULK}/${created.body.id}/cancel`).set(org.auth()).expect(409);
    expect(refused.body.error).toMatchObject({ code: 'conflict', details: { current_status: 'completed' } });
    const failed = await allItems(t, org, created.body.id, 'failed');
    expect(failed.map((i) => [i.flow_execution_id, i.error?.code])).toEqual([
      [b.id, 'conflict'],
      [c.id, 'conflict'],
    ]);
    expect(failed[0].error!.message).toContain("status 'completed'");
    const redriven = (await t.http().get(`${RUNS}/${a.id}`).set(org.auth()).expect(200)).body;
    expect(redriven).toMatchObject({ status: 'running', redrive_count: 1 });
    expect((await allItems(t, org, created.body.id, 'succeeded')).map((i) => i.flow_execution_id)).toEqual([a.id]);
  });

  it('cancels and deletes a batch in one statement, each run answered as its single-run endpoint answers it', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const [done, first, second, gone] = [
      await createExecution(t, org.auth, flowId),
      await createExecution(t, org.auth, flowId),
      await createExecution(t, org.auth, flowId),
      await createExecution(t, org.auth, flowId),
    ];
    // Three left running at a limit of 2: the next run queues.
    await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 2 }).expect(200);
    await t.http().patch(`${RUNS}/${done.id}/status`).query({ status: 'completed' }).set(org.auth('worker')).expect(200);
    const queuedRun = (await createExecution(t, org.auth, flowId)).id;
    const cancel = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'cancel', selection: { flow_id: flowId } })
      .expect(202);
    // Deleted after the set was frozen.
    await t.http().delete(`${RUNS}/${gone.id}`).set(org.auth()).expect(204);
    const cancelled = await withWorker(() => finished(t, org, cancel.body.id));
    expect(cancelled).toMatchObject({ status: 'completed', matched: 5, processed: 5, succeeded: 3, failed: 2 });

    // The failed items carry what POST .../cancel answers for the same runs now.
    const single = async (id: string) =>
      (
        await t
          .http()
          .post(`${RUNS}/${id}/cancel`)
          .set(org.auth())
          .expect((r) => expect(r.status).toBeGreaterThanOrEqual(400))
      ).body.error;
    const failed = await allItems(t, org, cancel.body.id, 'failed');
    const expected = [
      { flow_execution_id: done.id, error: await single(done.id) },
      { flow_execution_id: gone.id, error: await single(gone.id) },
    ].sort((a, b) => a.flow_execution_id.localeCompare(b.flow_execution_id));
    expect(failed.map((i) => i.flow_execution_id).sort()).toEqual(expected.map((e) => e.flow_execution_id));
    for (const item of failed) {
      const { error } = expected.find((e) => e.flow_execution_id === item.flow_execution_id)!;
      expect(item.error).toEqual({ code: error.code, message: error.message });
    }
    expect(failed.map((i) => i.error!.code).sort()).toEqual(['conflict', 'not_found']);
    const after = await statuses(flowId);
    expect([after.get(first.id), after.get(second.id), after.get(queuedRun)]).toEqual(['cancel_requested', 'cancel_requested', 'cancelled']);
    // One status event per run moved, as the single-run endpoint writes it.
    const events: { n: number }[] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM flow_events WHERE organization_id = $1 AND type = 'flow_execution.status_changed' AND payload->>'reason' = 'cancel'`,
      [org.id],
    );
    expect(events[0].n).toBe(3);

    // A delete: a run deleted since the set was frozen is done, as DELETE answers 204 again; deleting frees slots.
    const del = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'delete', selection: { flow_id: flowId } })
      .expect(202);
    await t.http().delete(`${RUNS}/${first.id}`).set(org.auth()).expect(204);
    const deleted = await withWorker(() => finished(t, org, del.body.id));
    expect(deleted).toMatchObject({ status: 'completed', matched: 4, processed: 4, succeeded: 4, failed: 0 });
    expect([...(await statuses(flowId)).values()].every((s) => s === 'deleted')).toBe(true);
    const slots: { active_executions: number }[] = await t.dataSource.query(`SELECT active_executions FROM organizations WHERE id = $1`, [org.id]);
    expect(slots[0].active_executions).toBe(0);
  });

  it('resumes after a process is killed mid-action and finishes with no run acted on twice', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    await manyRuns(org, flowId, 1500);
    const frozen = await statuses(flowId);
    // Created where no worker runs, then worked by a server process in small batches, killed mid-way.
    const created = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'delete', selection: { flow_id: flowId } })
      .expect(202);
    let server: ServerProcess | null = await startServerProcess({ BULK_ACTION_BATCH_SIZE: '10' });
    try {
      await waitUntilReady(server);
      const partial = await eventually(
        () => get(t, org, created.body.id),
        (a) => a.processed >= 50,
        120_000,
      );
      await server.stop('SIGKILL');
      server = null;
      const stopped = await get(t, org, created.body.id);
      expect(stopped.status).toBe('running');
      expect(stopped.processed).toBeGreaterThanOrEqual(partial.processed);
      expect(stopped.processed).toBeLessThan(1500);

      const done = await withWorker(() => finished(t, org, created.body.id));
      expect(done).toMatchObject({ status: 'completed', matched: 1500, processed: 1500, succeeded: 1500, failed: 0 });
      const after = await statuses(flowId);
      for (const id of frozen.keys()) expect(after.get(id)).toBe('deleted');
      const twice: unknown[] = await t.dataSource.query(
        `SELECT flow_execution_id FROM flow_events WHERE organization_id = $1 AND type = 'flow_execution.deleted'
          GROUP BY flow_execution_id HAVING count(*) > 1`,
        [org.id],
      );
      expect(twice).toEqual([]);
      const deletedEvents: { n: number }[] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM flow_events WHERE organization_id = $1 AND type = 'flow_execution.deleted'`,
        [org.id],
      );
      expect(deletedEvents[0].n).toBe(1500);
    } finally {
      await server?.stop('SIGKILL');
    }
  });

  it('is isolated per organization and bounded: 403 for another organization, 422 past the caps', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const flowId = await createFlow(t, org.auth);
    await createExecution(t, org.auth, flowId);
    // Another organization's flow: 403, and nothing created.
    await t
      .http()
      .post(BULK)
      .set(other.auth())
      .send({ action: 'cancel', selection: { flow_id: flowId } })
      .expect(403);
    await t
      .http()
      .post(BULK)
      .set(other.auth())
      .send({ action: 'cancel', selection: { flow_id: flowId }, dry_run: true })
      .expect(403);
    const created = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'cancel', selection: { flow_id: flowId } })
      .expect(202);
    await t.http().get(`${BULK}/${created.body.id}`).set(other.auth()).expect(403);
    await t.http().get(`${BULK}/${created.body.id}/items`).set(other.auth()).expect(403);
    await t.http().post(`${BULK}/${created.body.id}/cancel`).set(other.auth()).expect(403);
    expect((await t.http().get(BULK).set(other.auth()).expect(200)).body.bulk_actions).toEqual([]);
    await t.http().get(`${BULK}/${randomUUID()}`).set(org.auth()).expect(404);
    await t.http().get(`${BULK}/nope`).set(org.auth()).expect(400);
    await t
      .http()
      .post(BULK)
      .set(org.auth('worker'))
      .send({ action: 'cancel', selection: { flow_id: flowId } })
      .expect(403);

    // Past BULK_ACTIONS_PER_ORG (2 here): the actions stay queued without a worker.
    await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'delete', selection: { flow_id: flowId } })
      .expect(202);
    const third = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'cancel', selection: { flow_id: flowId } })
      .expect(422);
    expect(third.body.detail[0]).toMatchObject({ loc: ['body'], type: 'too_many_bulk_actions' });
    const list = (await t.http().get(BULK).set(org.auth()).expect(200)).body.bulk_actions as Action[];
    expect(list).toHaveLength(2);
    for (const a of list) await t.http().post(`${BULK}/${a.id}/cancel`).set(org.auth()).expect(200);

    // Past BULK_ACTION_MAX_RUNS (2,500 here): 422 naming the selection, dry run or not.
    const big = await createFlow(t, org.auth);
    await manyRuns(org, big, 2501);
    for (const dry of [true, false]) {
      const res = await t
        .http()
        .post(BULK)
        .set(org.auth())
        .send({ action: 'delete', selection: { flow_id: big }, dry_run: dry })
        .expect(422);
      expect(res.body.detail[0]).toMatchObject({ loc: ['body', 'selection'], type: 'too_many_runs' });
    }
    const bad = await t
      .http()
      .post(BULK)
      .set(org.auth())
      .send({ action: 'pause', selection: { flow_id: flowId, status: ['nope'] } })
      .expect(422);
    expect(bad.body.detail.map((d: { loc: string[] }) => d.loc.join('.')).sort()).toEqual(['body.action', 'body.selection.status']);
  });

  it('lists newest first by cursor, and cancels a queued action', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    await createExecution(t, org.auth, flowId);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++)
      ids.push(
        (
          await t
            .http()
            .post(BULK)
            .set(org.auth())
            .send({ action: 'cancel', selection: { flow_id: flowId } })
            .expect(202)
        ).body.id,
      );
    const first = await t.http().get(BULK).query({ limit: 2 }).set(org.auth()).expect(200);
    expect(first.body.bulk_actions.map((a: Action) => a.id)).toEqual([ids[1], ids[0]]);
    const second = await t.http().get(BULK).query({ limit: 1, after: first.body.bulk_actions[0].id }).set(org.auth()).expect(200);
    expect(second.body.bulk_actions.map((a: Action) => a.id)).toEqual([ids[0]]);
    const third = await t.http().get(BULK).query({ limit: 2, after: ids[0] }).set(org.auth()).expect(200);
    expect([third.body.bulk_actions, third.body.next_cursor]).toEqual([[], null]);
    for (const id of ids) {
      const res = await t.http().post(`${BULK}/${id}/cancel`).set(org.auth()).expect(200);
      expect(res.body).toMatchObject({ status: 'cancelled', processed: 0 });
      expect(res.body.finished_at).not.toBeNull();
      await t.http().post(`${BULK}/${id}/cancel`).set(org.auth()).expect(200);
    }
    expect((await allItems(t, org, ids[0], 'pending')).length).toBe(1);
  });
});
