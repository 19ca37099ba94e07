import request from 'supertest';
import { definitionOf, LINEAR_TASKS } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { ServerProcess, startServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';
import { eventually } from '../utils/eventually';
import { WebhookReceiver } from '../utils/webhook-receiver';

jest.setTimeout(120_000);

type Org = Awaited<ReturnType<typeof newOrg>>;
const ENV = { WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_TIMEOUT_MS: '1000', WEBHOOK_RETRY_BASE_MS: '50' };

/** Creates a webhook, a flow and one execution (one event) through `http`; answers the webhook. */
async function oneEvent(http: () => ReturnType<typeof request>, org: Org, url: string) {
  const hook = await http().post('/api/webhooks').set(org.auth()).send({ url }).expect(201);
  const flow = await http()
    .post('/api/flows')
    .set(org.auth())
    .send({ display_name: 'f', definition: definitionOf(LINEAR_TASKS) })
    .expect(201);
  await http()
    .post('/api/flow-executions')
    .set(org.auth())
    .send({ flow_id: flow.body.id, input: { file_key: 'a.pdf' } })
    .expect(201);
  return hook.body as { id: string; secret: string };
}

const attempts = (t: TestApp, org: Org, id: string) =>
  t
    .http()
    .get(`/api/webhooks/${id}/deliveries`)
    .set(org.auth())
    .then((res) => res.body.deliveries as { delivery_id: string; attempt: number; response_status: number | null; error: string | null; status: string }[]);

// Each test owns every delivery worker alive while it runs, so no other sender can step in.
describe('webhook deliveries across processes', () => {
  const receivers: WebhookReceiver[] = [];
  const servers: ServerProcess[] = [];
  const apps: TestApp[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });

  it('delivers an event whose sender died mid-attempt: another process takes it over when the lease runs out', async () => {
    const org = await newOrg();
    const r = await WebhookReceiver.start((_, n) => (n === 0 ? 'hang' : 200));
    receivers.push(r);
    const first = await startServerProcess(ENV);
    servers.push(first);
    await waitUntilReady(first);
    const hook = await oneEvent(() => request(first.url), org, r.url());
    const [sent] = await r.waitFor(1);
    expect(await first.stop('SIGKILL')).toBeNull(); // killed before the endpoint answered: no outcome recorded

    const second = await createTestApp(ENV);
    apps.push(second);
    const [, again] = await r.waitFor(2);
    expect(again.headers['webhook-id']).toBe(sent.headers['webhook-id']);
    expect(again.body).toBe(sent.body);
    const log = await eventually(
      () => attempts(second, org, hook.id),
      (a) => a.length === 1,
    );
    expect(log).toEqual([expect.objectContaining({ attempt: 2, response_status: 200, status: 'succeeded' })]);
  });

  it('delivers an event committed while no process was sending (the outbox), and shutting down waits for the attempt in flight', async () => {
    const org = await newOrg();
    const r = await WebhookReceiver.start((_, n) => (n === 0 ? 200 : 'hang'));
    receivers.push(r);
    const writer = await createTestApp({ ...ENV, WEBHOOK_WORKER: 'false' });
    apps.push(writer);
    const hook = await oneEvent(() => writer.http(), org, r.url());
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.received).toHaveLength(0);

    const sender = await createTestApp(ENV);
    const [got] = await r.waitFor(1);
    expect(JSON.parse(got.body)).toMatchObject({ type: 'flow_execution.created' });

    // The next message hangs at the endpoint; shutdown (what SIGTERM runs) lets it time out and records it.
    const [done] = await eventually(
      () => attempts(writer, org, hook.id),
      (a) => a.length === 1,
    );
    const redelivery = await writer.http().post(`/api/webhooks/${hook.id}/deliveries/${done.delivery_id}/redeliver`).set(org.auth()).expect(202);
    await r.waitFor(2);
    await sender.close();
    const log = await attempts(writer, org, hook.id);
    expect(log[0]).toMatchObject({
      delivery_id: redelivery.body.delivery_id,
      attempt: 1,
      response_status: null,
      error: 'timeout after 1000 ms',
      status: 'pending',
    });
  });

  it('refuses at send time an address that is not public, after DNS resolution', async () => {
    const org = await newOrg();
    const r = await WebhookReceiver.start();
    receivers.push(r);
    // Registered while private addresses were allowed; as if the names later resolved to private addresses.
    const lenient = await createTestApp({ ...ENV, WEBHOOK_WORKER: 'false' });
    apps.push(lenient);
    const byName = (
      await lenient
        .http()
        .post('/api/webhooks')
        .set(org.auth())
        .send({ url: r.url().replace('127.0.0.1', 'localhost') })
        .expect(201)
    ).body;
    const byAddress = await oneEvent(() => lenient.http(), org, r.url());

    const strict = await createTestApp({ WEBHOOK_TIMEOUT_MS: '1000', WEBHOOK_RETRY_BASE_MS: '50' });
    apps.push(strict);
    const literal = await eventually(
      () => attempts(strict, org, byAddress.id),
      (a) => a.length >= 1,
    );
    expect(literal.at(-1)).toMatchObject({ attempt: 1, response_status: null, error: 'refused: 127.0.0.1 is not a public address' });
    const resolved = await eventually(
      () => attempts(strict, org, byName.id),
      (a) => a.length >= 1,
    );
    expect(resolved.at(-1)).toMatchObject({ attempt: 1, response_status: null, error: 'refused: localhost does not resolve to a public address' });
    expect(r.received).toHaveLength(0);
  });
});
