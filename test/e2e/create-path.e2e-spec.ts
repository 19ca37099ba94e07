import { Client } from 'pg';
import { RawJson } from '../../src/common/http/raw-json';
import { FlowExecutionsRepository } from '../../src/flow-executions/flow-executions.repository';
import { FlowAnalysisCache } from '../../src/flows/flow-analysis';
import { createExecution, createFlow, definitionOf, LINEAR_TASKS } from '../factories/flows';
import { createTestApp, TestApp, writesPerStatement } from '../utils/create-test-app';
import { eventually } from '../utils/eventually';
import { newOrg } from '../utils/tokens';

const BASE = '/api/flow-executions';
type Org = Awaited<ReturnType<typeof newOrg>>;

/** The create path runs in one statement (start_flow_execution); what it writes must equal what the rest of the service writes. */
describe('creates in one statement', () => {
  let t: TestApp;
  beforeAll(async () => {
    // No delivery worker: the outbox rows a create writes stay where the test can read them (the URL is never called).
    t = await createTestApp({ WEBHOOK_WORKER: 'false', WEBHOOK_ALLOW_PRIVATE_URLS: 'true' });
  });
  afterAll(() => t.close());

  /** Runs `body` with the payloads heard on flow_execution_changes since before it started. */
  const hearingChanges = async (body: (heard: string[]) => Promise<void>) => {
    const listener = new Client({ connectionString: t.config.databaseUrl });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query('LISTEN flow_execution_changes');
    try {
      await body(heard);
    } finally {
      await listener.end();
    }
  };

  const createdEvent = async (org: Org, id: string) => {
    const page = await t.http().get(`${BASE}/events`).set(org.auth()).expect(200);
    return page.body.events.find((e: { type: string; flow_execution: { id: string } }) => e.type === 'flow_execution.created' && e.flow_execution.id === id);
  };

  it('starts on the latest version even when the cached one is stale (another replica edited the draft, its notice not yet here)', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    await t
      .http()
      .put(`/api/flows/${flowId}/definition`)
      .set(org.auth())
      .send({ definition: definitionOf([{ name: 'intake', task_executor_name: 'receive_file' }]) })
      .expect(200);
    // What this process would hold had the edit been made elsewhere: version 1 as the latest.
    t.app.get(FlowAnalysisCache).rememberHead(flowId, org.id, 1, definitionOf(LINEAR_TASKS));
    const created = await createExecution(t, org.auth, flowId);
    expect(created).toMatchObject({ flow_version: 2 });

    // Deleted elsewhere: the cached version is no help, the create answers 404 and writes nothing.
    await t.dataSource.query(`UPDATE flows SET deleted = true WHERE id = $1`, [flowId]);
    t.app.get(FlowAnalysisCache).rememberHead(flowId, org.id, 2, definitionOf([{ name: 'intake', task_executor_name: 'receive_file' }]));
    await t.http().post(BASE).set(org.auth()).send({ flow_id: flowId, input: {} }).expect(404);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM flow_executions WHERE flow_id = $1`, [flowId]);
    expect(n).toBe(1);
  });

  it('writes the created event with the body the retrieve endpoint answers', async () => {
    const org = await newOrg();
    const single = await createFlow(t, org.auth);
    const multi = await createFlow(t, org.auth, [
      { name: 'upload', task_executor_name: 'receive_file' },
      { name: 'mail', task_executor_name: 'receive_email' },
    ]);
    const a = await createExecution(t, org.auth, single, { nested: { list: [1, 'two', null], flag: true } });
    const b = (await t.http().post(BASE).set(org.auth()).send({ flow_id: multi, input: {}, input_task_name: 'mail' }).expect(201)).body;
    for (const created of [a, b]) {
      const retrieved = await t.http().get(`${BASE}/${created.id}?include_run_number=true`).set(org.auth()).expect(200);
      const event = await createdEvent(org, created.id);
      expect(event).toMatchObject({ previous_status: null });
      expect(event.flow_execution).toEqual(retrieved.body);
    }
    expect(b.triggered_task_executor_name).toBe('receive_email');
  });

  it('writes the created event as append_flow_events writes an event: the same row, the same outbox deliveries, the same notifications', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const other = await createFlow(t, org.auth);
    const hook = async (body: object) =>
      (
        await t
          .http()
          .post('/api/webhooks')
          .set(org.auth())
          .send({ url: 'http://127.0.0.1:9/hook', ...body })
          .expect(201)
      ).body.id as string;
    const everything = await hook({});
    const thisFlow = await hook({ flow_id: flowId, event_types: ['flow_execution.created'] });
    await hook({ flow_id: other });
    await hook({ event_types: ['flow_execution.deleted'] });
    const disabled = await hook({});
    await t.http().patch(`/api/webhooks/${disabled}`).set(org.auth()).send({ status: 'disabled' }).expect(200);

    const listener = new Client({ connectionString: t.config.databaseUrl });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`));
    await listener.query('LISTEN flow_execution_changes; LISTEN webhook_deliveries');
    try {
      const created = await createExecution(t, org.auth, flowId);
      await eventually(
        () => heard,
        (all) => all.includes(`flow_execution_changes:${org.id} ${created.id}`) && all.includes('webhook_deliveries:'),
      );

      const written = async (executionId: string) => {
        const [event] = await t.dataSource.query(
          `SELECT e.organization_id, e.flow_id, e.flow_execution_id, e.type, e.payload,
                  ARRAY(SELECT d.webhook_id::text || ' ' || d.organization_id || ' ' || d.event_type || ' ' || d.status
                          FROM webhook_deliveries d WHERE d.event_id = e.id ORDER BY d.webhook_id) AS deliveries
             FROM flow_events e WHERE e.flow_execution_id = $1 AND e.type = 'flow_execution.created'`,
          [executionId],
        );
        return event;
      };
      const fromCreate = await written(created.id);
      expect(fromCreate.deliveries.map((d: string) => d.split(' ')[0]).sort()).toEqual([everything, thisFlow].sort());

      // The same event through append_flow_events, in a transaction rolled back: the same row and deliveries.
      const runner = t.dataSource.createQueryRunner();
      await runner.connect();
      try {
        await runner.startTransaction();
        await runner.query(`DELETE FROM webhook_deliveries WHERE event_id IN (SELECT id FROM flow_events WHERE flow_execution_id = $1)`, [created.id]);
        await runner.query(`DELETE FROM flow_events WHERE flow_execution_id = $1`, [created.id]);
        await runner.query(
          `SELECT append_flow_events($1, jsonb_build_array(jsonb_build_object('flow_id', $2::uuid, 'flow_execution_id', $3::uuid,
                  'type', 'flow_execution.created', 'payload', $4::jsonb)), '{}')`,
          [org.id, flowId, created.id, JSON.stringify(fromCreate.payload)],
        );
        const [fromAppend] = await runner.query(
          `SELECT e.organization_id, e.flow_id, e.flow_execution_id, e.type, e.payload,
                  ARRAY(SELECT d.webhook_id::text || ' ' || d.organization_id || ' ' || d.event_type || ' ' || d.status
                          FROM webhook_deliveries d WHERE d.event_id = e.id ORDER BY d.webhook_id) AS deliveries
             FROM flow_events e WHERE e.flow_execution_id = $1 AND e.type = 'flow_execution.created'`,
          [created.id],
        );
        expect(fromAppend).toEqual(fromCreate);
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
    } finally {
      await listener.end();
    }
  });

  it('sends the change notification after the create has committed, not from its transaction (which would queue every create behind the last)', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    await hearingChanges(async (heard) => {
      // The statement alone, committed first: it notifies no one.
      const [{ id: direct }] = await t.dataSource.query(`SELECT (start_flow_execution($1, $2, 1, '{}'::jsonb, 'receive', NULL, 'test', 10)).id`, [
        org.id,
        flowId,
      ]);
      // A create through the API, committed after it, and one keeping an Idempotency-Key: each notifies its run once.
      const created = await createExecution(t, org.auth, flowId);
      const kept = (await t.http().post(BASE).set(org.auth()).set('Idempotency-Key', `notify-${org.id}`).send({ flow_id: flowId, input: {} }).expect(201)).body;
      await eventually(
        () => heard.filter((p) => p.startsWith(org.id)),
        (mine) => mine.length >= 2,
      );
      expect(heard.filter((p) => p.startsWith(org.id)).sort()).toEqual([`${org.id} ${created.id}`, `${org.id} ${kept.id}`].sort());
      // Had the statement notified, its notification would have come before both (notifications arrive in commit order).
      expect(heard.join()).not.toContain(direct);
    });
  });

  it('notifies each of many concurrent creates exactly once (their notifications go in shared statements)', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    await hearingChanges(async (heard) => {
      const created = await Promise.all(Array.from({ length: 40 }, () => createExecution(t, org.auth, flowId)));
      // A last notification through the same sender: its statements go one after another, so once
      // this one is heard every one before it has been (a duplicate included, had one been sent).
      const last = `${org.id} last`;
      await t.app.get(FlowExecutionsRepository).notifyCreated({ organization_id: org.id, id: 'last' });
      await eventually(
        () => heard,
        (all) => all.includes(last),
      );
      const mine = heard.filter((p) => p.startsWith(org.id) && p !== last);
      expect(mine.sort()).toEqual(created.map((c) => `${org.id} ${c.id}`).sort());
    });
  });

  /** A create as the service hands it to the repository, on version 1 of the flow. */
  const newRun = (org: Org, flowId: string, input: Record<string, unknown> | RawJson) => ({
    organizationId: org.id,
    flowId,
    flowVersion: 1,
    input,
    inputTaskName: 'receive',
    triggeredTaskExecutorName: null,
    modifiedBy: 'test',
    trace: null,
  });

  it('starts the creates of one organization handed over while one is in flight in one statement, each numbered, limited and evented as alone', async () => {
    const org = await newOrg();
    await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 5 }).expect(200);
    const flowId = await createFlow(t, org.auth);
    const repository = t.app.get(FlowExecutionsRepository);
    const sent = () => writesPerStatement(t, 'create');
    const before = await sent();
    // Handed over in one turn of the event loop: the first goes alone, the 29 others wait for it and go together.
    const started = await Promise.all(Array.from({ length: 30 }, (_, i) => repository.start(newRun(org, flowId, { i }), 10)));
    // Counted in /metrics: two statements, of 1 and 29 creates.
    const after = await sent();
    expect([after.count - before.count, after.sum - before.sum]).toEqual([2, 30]);
    const rows: { txid: string; run_number: number; status: string; i: number }[] = await t.dataSource.query(
      `SELECT xmin::text AS txid, run_number, status, (input ->> 'i')::int AS i FROM flow_executions WHERE flow_id = $1 ORDER BY run_number`,
      [flowId],
    );
    expect(new Set(rows.map((r) => r.txid)).size).toBe(2); // two transactions: the lone first, then the 29
    expect(rows.filter((r) => r.txid === rows[1].txid)).toHaveLength(29);
    // Numbered in the order handed over, the limit kept inside the shared statement.
    expect(rows.map((r) => r.run_number)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(rows.map((r) => r.i)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(rows.map((r) => r.status)).toEqual([...Array<string>(5).fill('running'), ...Array<string>(25).fill('queued')]);
    // Each answered its own run.
    expect(started.map((s) => (typeof s === 'string' ? s : JSON.parse(s.input as unknown as string).i))).toEqual(rows.map((r) => r.i));
    // One created event each, in the order of their run numbers.
    const events: { run_number: number }[] = await t.dataSource.query(
      `SELECT fe.run_number FROM flow_events e JOIN flow_executions fe ON fe.id = e.flow_execution_id
        WHERE e.organization_id = $1 AND e.type = 'flow_execution.created' ORDER BY e.id`,
      [org.id],
    );
    expect(events.map((e) => e.run_number)).toEqual(rows.map((r) => r.run_number));
  });

  it('creates the others of a shared statement PostgreSQL refused for one of its creates; that one fails alone and writes nothing', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const repository = t.app.get(FlowExecutionsRepository);
    const first = repository.start(newRun(org, flowId, { i: 0 }), 10);
    // jsonb refuses the NUL character: the statement of the three is refused, then each goes alone.
    const together = [{ i: 1 }, new RawJson('{"i": "\\u0000"}'), { i: 2 }].map((input) =>
      repository.start(newRun(org, flowId, input), 10).then(
        (row) => (typeof row === 'string' ? row : JSON.parse(row.input as unknown as string).i),
        (error: Error) => error.message,
      ),
    );
    await first;
    expect(await Promise.all(together)).toEqual([1, expect.stringContaining('unsupported Unicode escape sequence'), 2]);
    const rows: { run_number: number; i: number }[] = await t.dataSource.query(
      `SELECT run_number, (input ->> 'i')::int AS i FROM flow_executions WHERE flow_id = $1 ORDER BY run_number`,
      [flowId],
    );
    // No run number was spent on the refused statement nor on the refused create.
    expect(rows).toEqual([
      { run_number: 1, i: 0 },
      { run_number: 2, i: 1 },
      { run_number: 3, i: 2 },
    ]);
  });

  it('keeps the organization’s slot counter equal to its active executions through every kind of transition', async () => {
    const org = await newOrg();
    await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 5 }).expect(200);
    const flowId = await createFlow(t, org.auth);
    const counted = async () => {
      const [row] = await t.dataSource.query(
        `SELECT o.active_executions AS counter,
                (SELECT count(*)::int FROM flow_executions WHERE organization_id = o.id AND status IN ('running', 'awaiting_input', 'cancel_requested')) AS actual
           FROM organizations o WHERE o.id = $1`,
        [org.id],
      );
      return row as { counter: number; actual: number };
    };
    const created = await Promise.all(Array.from({ length: 16 }, (_, i) => createExecution(t, org.auth, flowId, { i })));
    expect(await counted()).toEqual({ counter: 5, actual: 5 });

    const running = created.filter((e) => e.status === 'running').map((e) => e.id);
    const queued = created.filter((e) => e.status === 'queued').map((e) => e.id);
    const worker = org.auth('worker');
    await Promise.all([
      t.http().patch(`${BASE}/${running[0]}/status?status=completed`).set(worker).expect(200),
      t.http().post(`${BASE}/${running[1]}/cancel`).set(org.auth()).expect(204),
      t.http().delete(`${BASE}/${running[2]}`).set(org.auth()).expect(204),
      t
        .http()
        .post(`${BASE}/${running[3]}/task-status`)
        .set(worker)
        .send({ statuses: [{ task_name: 'receive', status: 'awaiting_input' }] })
        .expect(200),
      t.http().post(`${BASE}/${queued[0]}/cancel`).set(org.auth()).expect(204),
      createExecution(t, org.auth, flowId),
    ]);
    await t.http().post(`${BASE}/${running[0]}/execute`).set(org.auth()).expect(204);
    await t.http().put('/api/organizations/settings').set(org.auth()).send({ max_concurrent_executions: 8 }).expect(200);
    const after = await counted();
    expect(after.counter).toBe(after.actual);
    expect(after.actual).toBe(8);
  });
});
