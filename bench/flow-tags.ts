import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { loadConfig } from '../src/config/app-config';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { TaskTagsRepository } from '../src/task-executions/task-tags.repository';

// GET /api/flows/{id}/tags on a large flow: its plan and its time, with and without task_name.
// `npm run build && DATABASE_URL=postgres://… node dist/bench/flow-tags.js [executions]` (a database of its own, dropped after).
const DATABASE = 'flow_tags_bench';
const ORG = '00000000-0000-4000-8000-0000000000aa';
const FLOW = '00000000-0000-4000-8000-0000000000f1';

async function main(): Promise<void> {
  // Only the database URL is used: any secret passes the configuration check.
  const url = loadConfig({ ...process.env, JWT_SECRET: 'x'.repeat(32) }).databaseUrl;
  if (!url) throw new Error('DATABASE_URL must name a PostgreSQL server');
  const executions = Number(process.argv[2] ?? 300_000);
  const admin = new Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  const benchUrl = new URL(url);
  benchUrl.pathname = `/${DATABASE}`;
  const dataSource = new DataSource(buildDataSourceOptions(benchUrl.toString()));
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    console.log(await seed(dataSource, executions));
    let plan = '';
    const explaining = {
      query: async (sql: string, params: unknown[]) => {
        const rows: { 'QUERY PLAN': string }[] = await dataSource.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params);
        plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        return dataSource.query(sql, params);
      },
    };
    for (const task of [undefined, 'task_1']) {
      const result = await new TaskTagsRepository(explaining as unknown as DataSource).flowTags(ORG, FLOW, task);
      console.log(`\n-- task_name=${task ?? '(none)'}: ${'tags' in result ? result.tags.length : 0} tags\n${plan}`);
      const repository = new TaskTagsRepository(dataSource);
      const times: number[] = [];
      for (let i = 0; i < 50; i++) {
        const start = process.hrtime.bigint();
        await repository.flowTags(ORG, FLOW, task);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      times.sort((a, b) => a - b);
      console.log(`-- 50 runs: median ${times[25].toFixed(2)} ms, p90 ${times[45].toFixed(2)} ms`);
    }
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
    await admin.end();
  }
}

/**
 * One flow of `executions` runs, 2% deleted; three tags each over three tasks (40 distinct, a quarter
 * of one task's removed), 3,000 more distinct ones (past the 1,000 bound), and a tag found only on
 * deleted runs, which must not show. Deleted runs' tags are marked as deleting a run marks them.
 */
async function seed(ds: DataSource, executions: number): Promise<string> {
  await ds.query(`INSERT INTO flows (id, organization_id, display_name, modified_by) VALUES ($1, $2, 'hot', 'bench')`, [FLOW, ORG]);
  await ds.query(
    `INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, modified_by, created_at, updated_at)
     SELECT $1, $2, 1, CASE WHEN g % 50 = 0 THEN 'deleted' ELSE 'completed' END, '{}', g, 'bench',
            now() - g * interval '1 second', now() - g * interval '1 second'
       FROM generate_series(1, $3::int) g`,
    [ORG, FLOW, executions],
  );
  await ds.query(
    `INSERT INTO task_execution_tags (organization_id, flow_execution_id, flow_id, execution_deleted, task_name, tag_type, tag, status)
     SELECT fe.organization_id, fe.id, fe.flow_id, fe.status = 'deleted', 'task_' || k, 'kind', 'v' || ((fe.run_number + k * 7) % 40),
            CASE WHEN k = 2 AND fe.run_number % 4 = 0 THEN 'deleted' ELSE 'active' END
       FROM flow_executions fe CROSS JOIN generate_series(0, 2) k
     UNION ALL
     SELECT fe.organization_id, fe.id, fe.flow_id, false, 'task_2', 'ref', 'r' || fe.run_number, 'active' FROM flow_executions fe WHERE fe.run_number % 100 = 1
     UNION ALL
     SELECT fe.organization_id, fe.id, fe.flow_id, true, 'task_0', 'aaa', 'only_deleted', 'active' FROM flow_executions fe WHERE fe.status = 'deleted'`,
  );
  await ds.query(`ANALYZE`);
  const [counts]: { executions: number; tags: number; deleted_only: number }[] = await ds.query(
    `SELECT (SELECT count(*)::int FROM flow_executions) AS executions, (SELECT count(*)::int FROM task_execution_tags) AS tags,
            (SELECT count(*)::int FROM task_execution_tags WHERE tag_type = 'aaa') AS deleted_only`,
  );
  return `seeded ${counts.executions} executions, ${counts.tags} tags (${counts.deleted_only} of a tag found only on deleted runs)`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
