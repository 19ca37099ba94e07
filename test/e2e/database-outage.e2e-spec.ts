import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { createExecution, createFlow } from '../factories/flows';
import { freePort } from '../setup/global-setup';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';
import { WebhookReceiver } from '../utils/webhook-receiver';

// The app on a database server of its own, which the test stops and starts again.
describe('database outage', () => {
  let dir: string;
  let port: number;
  let pg: EmbeddedPostgresHandle;
  let t: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flows-outage-'));
    port = await freePort();
    pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port });
    t = await createTestApp({ DATABASE_URL: pg.url, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' });
  });
  afterAll(async () => {
    await t?.close();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (pg && pg.clusterDir !== join(dir, 'pg')) rmSync(pg.clusterDir, { recursive: true, force: true });
  });

  it('answers 503 in the envelope while the database is down, stays up, and recovers by itself', async () => {
    const org = await newOrg();
    await t.http().get('/api/flows').set(org.auth()).expect(200);

    await pg.stop();
    const down = await t.http().get('/api/flows').set(org.auth());
    expect(down.status).toBe(503);
    expect(down.body.error).toEqual({ code: 'service_unavailable', message: 'The database is unavailable, try again shortly', details: null });
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|stack/);
    const notReady = await t.http().get('/health/ready');
    expect(notReady.status).toBe(503);
    await t.http().get('/health/live').expect(200);

    pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port });
    await t.http().get('/api/flows').set(org.auth()).expect(200);
    await t.http().get('/health/ready').expect(200);
  });

  it('keeps delivering webhooks after the database restarts: the worker logs, backs off and goes on', async () => {
    const org = await newOrg();
    const receiver = await WebhookReceiver.start();
    try {
      await t.http().post('/api/webhooks').set(org.auth()).send({ url: receiver.url() }).expect(201);
      const flowId = await createFlow(t, org.auth);
      await createExecution(t, org.auth, flowId);
      await receiver.waitFor(1);

      await pg.stop();
      await new Promise((resolve) => setTimeout(resolve, 1500)); // longer than the worker's idle poll: it meets the outage
      pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port });
      const after = await createExecution(t, org.auth, flowId);
      const [, got] = await receiver.waitFor(2);
      expect(JSON.parse(got.body).flow_execution.id).toBe(after.id);
    } finally {
      await receiver.close();
    }
  });
});
