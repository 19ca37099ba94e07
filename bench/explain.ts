import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../src/config/app-config';
import { FlowExecutionsRepository, ListFilter } from '../src/flow-executions/flow-executions.repository';
import { TaskExecutionsRepository } from '../src/task-executions/task-executions.repository';
import { BENCH_DATABASE, Fixture } from './seed';

/**
 * EXPLAIN (ANALYZE, BUFFERS) of every list query, as the repositories write it, on the seeded bench
 * data, for its worst realistic filters. Run after `npm run bench` has seeded:
 * `npm run bench:explain`; full plans in bench/results/explain.txt.
 */

const RESULTS = join(resolve(__dirname, '..', '..'), 'bench', 'results');

/**
 * A DataSource whose `query` records the statement instead of running it; so does its pool's client
 * for a page read by `copyQuery` (its SELECT, the parameters written in).
 */
function capturing(): { dataSource: DataSource; last: () => { sql: string; params: unknown[] } } {
  let last = { sql: '', params: [] as unknown[] };
  const client = {
    query: (copy: { text: string }) => {
      const inner = /^COPY \(SELECT [^()]* FROM \(([\s\S]*)\) q\) TO STDOUT \(FORMAT binary\)$/.exec(copy.text);
      if (!inner) throw new Error(`not a copyQuery statement: ${copy.text.slice(0, 80)}`);
      last = { sql: inner[1], params: [] };
      return Readable.from([]);
    },
    release: () => undefined,
  };
  const dataSource = {
    query: async (sql: string, params: unknown[]) => {
      last = { sql, params };
      return [];
    },
    driver: { master: { connect: async () => client } },
  } as unknown as DataSource;
  return { dataSource, last: () => last };
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, JWT_SECRET: 'x'.repeat(32) });
  if (!config.databaseUrl) throw new Error('set DATABASE_URL to the server the bench seeded');
  const url = new URL(config.databaseUrl);
  url.pathname = `/${BENCH_DATABASE}`;
  const db = new Client({ connectionString: url.toString() });
  await db.connect();
  try {
    const fixture = (await db.query(`SELECT fixture FROM bench_seed`)).rows[0].fixture as Fixture;
    const { dataSource, last } = capturing();
    const executions = new FlowExecutionsRepository(dataSource);
    const tasks = new TaskExecutionsRepository(dataSource);
    const split = (tag: string): [string, string] => [tag.slice(0, tag.indexOf(':')), tag.slice(tag.indexOf(':') + 1)];
    const cursor = (
      await db.query(`SELECT id FROM flow_executions WHERE flow_id = $1 AND status <> 'deleted' ORDER BY created_at DESC, id DESC OFFSET 9999 LIMIT 1`, [
        fixture.hotFlowId,
      ])
    ).rows[0].id;
    const taskCursor = (await db.query(`SELECT id FROM task_executions ORDER BY created_at DESC, id DESC OFFSET 100000 LIMIT 1`)).rows[0].id;

    const base: ListFilter = {
      flowId: fixture.hotFlowId,
      organizationId: fixture.organizationId,
      sortField: 'created_at',
      sortDirection: 'desc',
      offset: 0,
      limit: 10,
      withCredits: false,
    };
    const cases: [string, () => Promise<unknown>][] = [
      ['executions: hot flow, newest 10', () => executions.list(base)],
      ['executions: hot flow, newest 1000 with credits', () => executions.list({ ...base, limit: 1000, withCredits: true })],
      [
        `executions: hot flow, rare tag ${fixture.tags.rare} (${fixture.tags.rareCount} in the flow), newest 10`,
        () => executions.list({ ...base, tags: [split(fixture.tags.rare)] }),
      ],
      [
        `executions: hot flow, common tag ${fixture.tags.common} (${fixture.tags.commonCount} in the flow), newest 10`,
        () => executions.list({ ...base, tags: [split(fixture.tags.common)] }),
      ],
      [`executions: hot flow, common tag, newest 1000`, () => executions.list({ ...base, limit: 1000, tags: [split(fixture.tags.common)] })],
      [
        `executions: hot flow, rare or common tag, excluding priority:high`,
        () => executions.list({ ...base, tags: [split(fixture.tags.rare), split(fixture.tags.common)], tagsExclude: [['priority', 'high']] }),
      ],
      ['executions: hot flow, status=queued (50 newest rows of the org)', () => executions.list({ ...base, status: ['queued'] })],
      ['executions: hot flow, status=awaiting_input (2 rows)', () => executions.list({ ...base, status: ['awaiting_input'] })],
      [
        'executions: hot flow, updated_at ascending, created in one day',
        () =>
          executions.list({
            ...base,
            sortField: 'updated_at',
            sortDirection: 'asc',
            createdAfter: '2026-06-01T00:00:00Z',
            createdBefore: '2026-06-02T00:00:00Z',
          }),
      ],
      ['executions: hot flow, page 1000 of 10 by cursor', () => executions.list({ ...base, cursorId: cursor })],
      ['executions: hot flow, page 1000 of 10 by offset', () => executions.list({ ...base, offset: 9990 })],
      ['task executions: organization, newest 1000', () => tasks.list({ organizationId: fixture.organizationId, includeCredits: true, limit: 1000 })],
      [
        'task executions: organization, 1000 after 100,000',
        () => tasks.list({ organizationId: fixture.organizationId, includeCredits: true, limit: 1000, after: taskCursor }),
      ],
      [
        'task executions: organization, task_name=receive, task_execution_idx=0',
        () => tasks.list({ organizationId: fixture.organizationId, includeCredits: true, taskName: 'receive', taskExecutionIdx: 0, limit: 1000 }),
      ],
      [
        'task executions: organization, task_name that no task has',
        () => tasks.list({ organizationId: fixture.organizationId, includeCredits: true, taskName: 'missing', limit: 1000 }),
      ],
    ];

    const out: string[] = [];
    const summary: string[] = ['| query | time ms | shared buffers hit / read | plan |', '| --- | ---: | ---: | --- |'];
    for (const [name, run] of cases) {
      await run().catch(() => undefined); // nothing ran: a page read through copyQuery finds no output

      const { sql, params } = last();
      await db.query(sql, params); // warm
      const plan = (await db.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params)).rows[0]['QUERY PLAN'][0];
      const text = (await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
      const root = plan.Plan;
      summary.push(
        `| ${name} | ${plan['Execution Time'].toFixed(2)} | ${root['Shared Hit Blocks']} / ${root['Shared Read Blocks']} | ${indexes(root).join(', ')} |`,
      );
      out.push(`== ${name}\n${text}\n`);
    }
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'explain.txt'), out.join('\n'));
    writeFileSync(join(RESULTS, 'explain.md'), summary.join('\n') + '\n');
    console.log(summary.join('\n'));
    console.log('\nfull plans: bench/results/explain.txt');
  } finally {
    await db.end();
  }
}

/** The scans a plan ran (nodes that never ran are left out): which index, or a sequential scan. */
function indexes(node: Record<string, unknown>, found: string[] = []): string[] {
  const ran = node['Actual Loops'] !== 0;
  const type = node['Node Type'] as string;
  if (ran && /Scan/.test(type) && !/CTE|Subquery|Function|Values|Result/.test(type)) {
    const label = node['Index Name'] ? `${type.replace(' Scan', '')} ${node['Index Name']}` : `${type} ${node['Relation Name'] ?? ''}`;
    if (!found.includes(label)) found.push(label);
  }
  for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) indexes(child, found);
  return found;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
