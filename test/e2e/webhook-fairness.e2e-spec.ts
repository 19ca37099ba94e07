import { EventLog } from '../../src/event-log/event-log.service';
import { WebhooksRepository } from '../../src/webhooks/webhooks.repository';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { newOrg } from '../utils/tokens';
import { eventually } from '../utils/eventually';
import { WebhookReceiver } from '../utils/webhook-receiver';

type Org = Awaited<ReturnType<typeof newOrg>>;

describe('webhook fairness', () => {
  const receivers: WebhookReceiver[] = [];
  const receiver = async (...args: Parameters<typeof WebhookReceiver.start>) => {
    const r = await WebhookReceiver.start(...args);
    receivers.push(r);
    return r;
  };
  afterAll(() => Promise.all(receivers.map((r) => r.close())));

  const register = async (t: TestApp, org: Org, url: string) => {
    const res = await t.http().post('/api/webhooks').set(org.auth()).send({ url });
    expect(res.status).toBe(201);
    return res.body as { id: string };
  };

  describe('without a worker', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ WEBHOOK_WORKER: 'false', WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOKS_PER_ORG: '2' });
    });
    afterAll(() => t.close());

    it('caps the webhooks of an organization at WEBHOOKS_PER_ORG: 422 past it, in the envelope, nothing created', async () => {
      const [org, neighbour] = [await newOrg(), await newOrg()];
      const first = await register(t, org, 'https://hooks.example.com/1');
      await register(t, org, 'https://hooks.example.com/2');
      const refused = await t.http().post('/api/webhooks').set(org.auth()).send({ url: 'https://hooks.example.com/3' });
      const body = expectEnvelope(refused, 422, 'validation_error');
      expect(body.detail).toEqual([
        { loc: ['body'], type: 'too_many_webhooks', msg: 'The organization has 2 webhooks, the most it may register (2); delete one first', input: null },
      ]);
      expect((await t.http().get('/api/webhooks').set(org.auth()).expect(200)).body).toHaveLength(2);
      await register(t, neighbour, 'https://hooks.example.com/1');

      // Concurrent creates never pass the cap together.
      await t.http().delete(`/api/webhooks/${first.id}`).set(org.auth()).expect(204);
      const racing = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          t
            .http()
            .post('/api/webhooks')
            .set(org.auth())
            .send({ url: `https://hooks.example.com/r${i}` }),
        ),
      );
      expect(racing.map((r) => r.status).sort()).toEqual([201, 422, 422, 422]);
    });

    it('claims take turns between organizations, and at most WEBHOOK_ORG_CONCURRENCY minus those in flight per organization', async () => {
      const repository = t.app.get(WebhooksRepository);
      // Whatever earlier suites left pending, due now or soon (a retry's backoff), is put an hour off, so that only this test's deliveries are due.
      await t.dataSource.query(`UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour' WHERE status = 'pending'`);
      const [busy, quiet] = [await newOrg(), await newOrg()];
      const sink = await receiver();
      await register(t, busy, sink.url());
      await register(t, quiet, sink.url());
      const [busyFlow, quietFlow] = [await createFlow(t, busy.auth), await createFlow(t, quiet.auth)];
      for (let i = 0; i < 6; i++) await createExecution(t, busy.auth, busyFlow);
      for (let i = 0; i < 2; i++) await createExecution(t, quiet.auth, quietFlow);
      // The busy organization's six are older, yet the first two claimed are one of each.
      const firstTurn = await repository.claim(2, 100, new Map(), 600_000, 100, new Map());
      expect(firstTurn.map((d) => d.organization_id).sort()).toEqual([busy.id, quiet.id].sort());
      // Three of the busy organization's are in flight here: with a bound of four, one more of it, and the quiet one's last.
      const rest = await repository.claim(100, 100, new Map(), 600_000, 4, new Map([[busy.id, 3]]));
      expect(rest.map((d) => d.organization_id).sort()).toEqual([busy.id, quiet.id].sort());
    });
  });

  describe('with a worker', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({
        WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
        WEBHOOK_CONCURRENCY: '4',
        WEBHOOK_ENDPOINT_CONCURRENCY: '4',
        WEBHOOK_ORG_CONCURRENCY: '2',
        WEBHOOK_TIMEOUT_MS: '60000',
        WEBHOOK_RETRY_BASE_MS: '100',
        WEBHOOK_RETRY_WINDOW_MS: '600000',
      });
    });
    afterAll(() => t.close());

    it('an organization with slow endpoints holds at most its share of the delivery slots', async () => {
      const [slow, quiet] = [await newOrg(), await newOrg()];
      const [hanging1, hanging2, fast] = [await receiver(() => 'hang'), await receiver(() => 'hang'), await receiver()];
      await register(t, slow, hanging1.url());
      await register(t, slow, hanging2.url());
      await register(t, quiet, fast.url());
      const slowFlow = await createFlow(t, slow.auth);
      for (let i = 0; i < 6; i++) await createExecution(t, slow.auth, slowFlow);
      await eventually(
        async () => hanging1.received.length + hanging2.received.length,
        (n) => n >= 2,
      );
      await createExecution(t, quiet.auth, await createFlow(t, quiet.auth));
      // Delivered while the slow organization's attempts still hang: they never held more than two slots.
      await fast.waitFor(1);
      expect(hanging1.maxOpen + hanging2.maxOpen).toBeLessThanOrEqual(2);
      for (const hanging of [hanging1, hanging2]) {
        hanging.answer = () => 200;
        hanging.release();
      }
    });

    it('a pending retry still delivers the event after retention removed it from the log', async () => {
      const org = await newOrg();
      let failing = true;
      const flaky = await receiver(() => (failing ? 500 : 200));
      await register(t, org, flaky.url());
      const e = await createExecution(t, org.auth, await createFlow(t, org.auth));
      const [first] = await flaky.waitFor(1);
      const later = new Date(Date.now() + (t.config.eventRetentionHours + 1) * 3_600_000);
      await t.app.get(EventLog).purgeExpired(later);
      expect((await t.http().get('/api/flow-executions/events').set(org.auth()).expect(200)).body.events).toEqual([]);
      failing = false;
      const delivered = await eventually(
        async () => flaky.received.length,
        (n) => n >= 2,
      );
      const last = flaky.received[delivered - 1];
      expect(last.headers['webhook-id']).toBe(first.headers['webhook-id']);
      expect(JSON.parse(last.body)).toEqual(JSON.parse(first.body));
      expect(JSON.parse(last.body).flow_execution.id).toBe(e.id);
    });
  });
});
