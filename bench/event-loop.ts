import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import { AppModule } from '../src/app.module';
import { configureApp } from '../src/app.setup';
import { loadConfig } from '../src/config/app-config';
import { BENCH_DATABASE, Fixture } from './seed';

/**
 * How long one request holds the event loop, at the documented bounds: the app in this process on
 * the seeded bench data, each request alone, perf_hooks.monitorEventLoopDelay (10 ms resolution)
 * reset before and read after it. `npm run bench:event-loop` after `npm run bench` has seeded.
 * On a busy machine the delay includes time the process waited for a core; the process's CPU time
 * (client included, all threads) is the steadier figure. The worst case of the bounds (1,000 task executions of 100 tags each) is made in an organization
 * of its own for the run and removed after.
 */

const RESULTS = join(resolve(__dirname, '..', '..'), 'bench', 'results');
const REPEAT = 5;

async function main(): Promise<void> {
  const secret = randomBytes(32).toString('hex');
  const base = loadConfig({ ...process.env, JWT_SECRET: secret, LOG_LEVEL: 'warn' });
  if (!base.databaseUrl) throw new Error('set DATABASE_URL to the server the bench seeded');
  const url = new URL(base.databaseUrl);
  url.pathname = `/${BENCH_DATABASE}`;
  const config = { ...base, databaseUrl: url.toString(), migrate: false };

  const db = new Client({ connectionString: config.databaseUrl });
  await db.connect();
  const fixture = (await db.query(`SELECT fixture FROM bench_seed`)).rows[0].fixture as Fixture;
  const worst = await makeWorstCase(db, fixture);

  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { bodyParser: false, logger: false });
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const origin = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const token = (org: string) =>
    new SignJWT({ org_id: org, role: 'org_admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bench')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(secret));
  const auth = { Authorization: `Bearer ${await token(fixture.organizationId)}` };
  const worstAuth = { Authorization: `Bearer ${await token(worst.organizationId)}` };

  const cases: [string, string, Record<string, string>][] = [
    [
      'executions list, 1,000 with run numbers and credits',
      `/api/flow-executions?flow_id=${fixture.hotFlowId}&page_size=1000&include_run_number=true&include_credits=true`,
      auth,
    ],
    ['executions list, 1,000 with a common tag', `/api/flow-executions?flow_id=${fixture.hotFlowId}&page_size=1000&tags=${fixture.tags.common}`, auth],
    ['task executions list, 1,000 (bench data: 1-3 tags each)', `/api/task-executions`, auth],
    ['task executions list, 1,000 of 100 tags each (the bounds)', `/api/task-executions?flow_execution_id=${worst.executionId}`, worstAuth],
  ];
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  const lines = [
    '| request (alone, warm) | response MB | event-loop delay ms, worst of 5 | median of 5 | process CPU ms, median | response ms, median |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  try {
    for (const [name, path, headers] of cases) {
      await fetch(`${origin}${path}`, { headers }).then((r) => r.arrayBuffer()); // warm
      const delays: number[] = [];
      const times: number[] = [];
      const cpu: number[] = [];
      let bytes = 0;
      for (let i = 0; i < REPEAT; i++) {
        histogram.reset();
        histogram.enable();
        const started = performance.now();
        const cpuBefore = process.cpuUsage();
        const res = await fetch(`${origin}${path}`, { headers });
        bytes = (await res.arrayBuffer()).byteLength;
        const used = process.cpuUsage(cpuBefore);
        cpu.push((used.user + used.system) / 1000);
        times.push(performance.now() - started);
        histogram.disable();
        if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
        delays.push(histogram.max / 1e6);
      }
      const sorted = [...delays].sort((a, b) => a - b);
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[2].toFixed(0);
      const line = `| ${name} | ${(bytes / 1048576).toFixed(1)} | ${sorted[sorted.length - 1].toFixed(0)} | ${sorted[2].toFixed(0)} | ${median(cpu)} | ${median(times)} |`;
      console.log(line);
      lines.push(line);
    }
  } finally {
    await app.close();
    await removeWorstCase(db, worst);
    await db.end();
  }
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'event-loop.md'), lines.join('\n') + '\n');
}

/** One execution with 1,000 task executions (tasks task-0..task-999), each task with 100 active tags. */
async function makeWorstCase(db: Client, fixture: Fixture): Promise<{ organizationId: string; flowId: string; executionId: string }> {
  const organizationId = randomUUID();
  const flowId = randomUUID();
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO flows (id, organization_id, display_name, status, latest_version, executions_count, modified_by)
     VALUES ($1, $2, 'event-loop bounds', 'published', 1, 1, 'bench')`,
    [flowId, organizationId],
  );
  await db.query(
    `INSERT INTO flow_versions (flow_id, version, definition, modified_by) SELECT $1, 1, definition, 'bench' FROM flow_versions WHERE flow_id = $2`,
    [flowId, fixture.smallFlowId],
  );
  const { rows } = await db.query(
    `INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, modified_by, created_at, updated_at)
     SELECT $1, $2, 1, 'completed', input, 1, 'bench', now(), now() FROM flow_executions WHERE flow_id = $3 LIMIT 1 RETURNING id`,
    [organizationId, flowId, fixture.hotFlowId],
  );
  const executionId = rows[0].id as string;
  await db.query(
    `INSERT INTO task_executions (organization_id, flow_execution_id, task_name, task_execution_idx, processing_status, input, output, credits, modified_by, created_at, updated_at)
     SELECT $1, $2, 'task-' || n, 0, 'completed', te.input, te.output, 1, 'bench', now() - n * interval '1 ms', now()
       FROM generate_series(0, 999) n, (SELECT input, output FROM task_executions WHERE organization_id = $3 LIMIT 1) te`,
    [organizationId, executionId, fixture.organizationId],
  );
  await db.query(
    `INSERT INTO task_execution_tags (organization_id, flow_execution_id, flow_id, task_name, tag_type, tag, modified_by)
     SELECT $1, $2, $3, 'task-' || n, 'label', 'value-' || k, 'bench' FROM generate_series(0, 999) n, generate_series(1, 100) k`,
    [organizationId, executionId, flowId],
  );
  await db.query('COMMIT');
  return { organizationId, flowId, executionId };
}

async function removeWorstCase(db: Client, worst: { flowId: string; executionId: string }): Promise<void> {
  await db.query(`DELETE FROM task_execution_tags WHERE flow_execution_id = $1`, [worst.executionId]);
  await db.query(`DELETE FROM task_executions WHERE flow_execution_id = $1`, [worst.executionId]);
  await db.query(`DELETE FROM flow_executions WHERE id = $1`, [worst.executionId]);
  await db.query(`DELETE FROM flow_versions WHERE flow_id = $1`, [worst.flowId]);
  await db.query(`DELETE FROM flows WHERE id = $1`, [worst.flowId]);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
