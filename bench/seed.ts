import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';

type Step = (what: string, sql: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;
// Bump when the shape of the seeded data changes: a marker with another version forces a reseed.
const SEED_VERSION = 3;
// Named by version, so that checkouts with another shape never drop each other's data on a shared server.
export const BENCH_DATABASE = `flows_bench_v${SEED_VERSION}`;
const ORGANIZATION_ID = 'b0000000-0000-4000-8000-00000000be9c';
export const BENCH_SUBJECT = 'bench-user';
const WORKER_SUBJECT = 'bench-worker';

/** What the scenarios need to know about the seeded data. */
export interface Fixture {
  scale: number;
  organizationId: string;
  hotFlowId: string;
  /** The small flow read by the GET scenarios; never written to by the benchmark. */
  smallFlowId: string;
  /** The small flow the POST scenario creates executions on (reset at every run). */
  postFlowId: string;
  executions: number;
  hotExecutions: number;
  smallFlows: number;
  perSmallFlow: number;
  /** Task executions (one `receive` attempt per hot-flow execution) and their tags. */
  taskExecutions: number;
  tags: { rare: string; common: string; rareCount: number; commonCount: number };
}

export interface SeedInfo {
  reused: boolean;
  /** Wall time of migrations + inserts + VACUUM ANALYZE + checks, when this run seeded. */
  seconds: number | null;
  seededAt: string;
  tableMB: number;
}

export interface BenchDatabase {
  url: string;
  /** Where the server is, with no password, for the report. */
  server: string;
  postgresVersion: string;
  fixture: Fixture;
  seed: SeedInfo;
  stop(): Promise<void>;
}

/** The executions the issue asks for at scale 1: a hot flow of 200k and 1000 flows of 800. */
export function shapeOf(scale: number) {
  const hotExecutions = Math.max(100, Math.round(200_000 * scale));
  // The number of small flows scales, their size does not: per-flow queries behave the same at every scale.
  const smallFlows = Math.max(3, Math.round(1000 * scale));
  const perSmallFlow = 800;
  return { hotExecutions, smallFlows, perSmallFlow, executions: hotExecutions + smallFlows * perSmallFlow };
}

/** A definition the flows module accepts: one input task `receive` (receive_file), no parameters. */
export const DEFINITION = {
  flow: { author_uuid: '', created_at: '' },
  flow_configs: [
    {
      config: { groups: [], notes: [], tasks: [{ name: 'receive', task_title: 'receive', task_executor_name: 'receive_file', parameters: {} }] },
      meta: { name: 'bench flow', description: '' },
    },
  ],
};

/**
 * The seeded database on DATABASE_URL's server, or on an embedded server of its own (port
 * EMBEDDED_PG_PORT + 1, so a dev server keeps running). Seeds when the marker is missing or
 * names another scale; otherwise reuses the data.
 */
export async function openBenchDatabase(options: {
  adminUrl?: string;
  embedded: { dataDir: string; port: number };
  scale: number;
  reseed: boolean;
  /** Name of the database on the server (several checkouts may bench on one server). */
  database?: string;
  log: (message: string) => void;
}): Promise<BenchDatabase> {
  const database = options.database ?? BENCH_DATABASE;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error(`bad database name '${database}'`);
  const { log } = options;
  let adminUrl = options.adminUrl;
  let stop = async (): Promise<void> => {};
  if (!adminUrl) {
    log(`starting the embedded PostgreSQL (${options.embedded.dataDir}, port ${options.embedded.port})`);
    const embedded = await startEmbeddedPostgres({ dataDir: options.embedded.dataDir, port: options.embedded.port });
    adminUrl = embedded.url;
    stop = () => embedded.stop();
  }
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const benchUrl = url.toString();
    const server = `${url.hostname}:${url.port || 5432}${options.adminUrl ? '' : ' (embedded)'}`;

    let marker = options.reseed ? null : await readMarker(adminUrl, benchUrl, database);
    let seconds: number | null = null;
    if (marker && marker.fixture.scale === options.scale && marker.version === SEED_VERSION) {
      log(`reusing ${database} on ${server}, seeded at scale ${options.scale} on ${marker.seededAt}`);
    } else {
      log(`seeding ${database} on ${server} at scale ${options.scale}`);
      const started = process.hrtime.bigint();
      await recreateDatabase(adminUrl, database);
      await migrate(benchUrl);
      await seed(benchUrl, options.scale, log);
      seconds = Number(process.hrtime.bigint() - started) / 1e9;
      marker = await readMarker(adminUrl, benchUrl, database);
      if (!marker) throw new Error('the seed wrote no marker');
      log(`seeded ${marker.fixture.executions} executions in ${seconds.toFixed(1)} s`);
    }

    const client = new Client({ connectionString: benchUrl });
    await client.connect();
    try {
      await resetPostFlow(client, marker.fixture);
      const version = (await client.query(`SHOW server_version`)).rows[0].server_version as string;
      const size = await client.query(`SELECT pg_total_relation_size('flow_executions') / 1048576 AS mb`);
      return {
        url: benchUrl,
        server,
        postgresVersion: version,
        fixture: marker.fixture,
        seed: { reused: seconds === null, seconds, seededAt: marker.seededAt, tableMB: Number(size.rows[0].mb) },
        stop,
      };
    } finally {
      await client.end();
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

async function readMarker(adminUrl: string, benchUrl: string, database: string): Promise<{ version: number; seededAt: string; fixture: Fixture } | null> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [database]);
    if (!exists.rowCount) return null;
  } finally {
    await admin.end();
  }
  const client = new Client({ connectionString: benchUrl });
  await client.connect();
  try {
    const table = await client.query(`SELECT to_regclass('bench_seed') IS NOT NULL AS present`);
    if (!table.rows[0].present) return null;
    const { rows } = await client.query(`SELECT seed_version, seeded_at, fixture FROM bench_seed`);
    if (rows.length !== 1) return null;
    return { version: rows[0].seed_version, seededAt: (rows[0].seeded_at as Date).toISOString(), fixture: rows[0].fixture };
  } finally {
    await client.end();
  }
}

async function recreateDatabase(adminUrl: string, database: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // A half-seeded or other-scale database is never patched up: it is replaced.
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
}

/** The app's own migrations, through the same options builder as the app (no entities needed). */
async function migrate(url: string): Promise<void> {
  const dataSource = new DataSource({ ...buildDataSourceOptions(url, { poolSize: 2 }), entities: [] });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}

/**
 * Set-based inserts shaped like the service's own writes (FlowExecutionsRepository.insert and the
 * flows module's create): run numbers 1..n per flow in created_at order, created_at strictly
 * increasing per flow, the flow's executions_count and last_execution_at matching. Rows go in in
 * time order, so the hot flow's rows are spread over the table as they would be in production.
 */
async function seed(url: string, scale: number, log: (message: string) => void): Promise<void> {
  const shape = shapeOf(scale);
  const { executions: total, hotExecutions: hot, smallFlows } = shape;
  // Flow 0 is the hot flow, 1..smallFlows the small ones.
  const flowIds = Array.from({ length: smallFlows + 1 }, () => randomUUID());
  // One year of history ending an hour ago; every execution a whole number of microseconds apart.
  const end = new Date(Date.now() - 3600_000);
  const stepMicros = Math.floor((365 * 86_400e6) / total); // ≥ 1000 µs up to 31 billion executions
  const start = new Date(end.getTime() - Math.ceil((total * stepMicros) / 1000));

  const client = new Client({ connectionString: url });
  await client.connect();
  const step: Step = async (what, sql, params = []) => {
    const t = Date.now();
    const result = await client.query(sql, params);
    log(`  ${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    return result;
  };
  try {
    await client.query(`SET synchronous_commit = off`);
    await client.query(`SET maintenance_work_mem = '256MB'`);

    // lockOrganization's row: created on first use with no limit of its own (the config default applies).
    await client.query(`INSERT INTO organizations (id, created_at, updated_at) VALUES ($1, $2, $2)`, [ORGANIZATION_ID, start]);
    await step(
      'flows and versions',
      `WITH f AS (
         INSERT INTO flows (id, organization_id, display_name, status, tags, latest_version, executions_count, created_at, updated_at, modified_by)
         SELECT id, $2, CASE WHEN n = 1 THEN 'Bench hot flow' ELSE format('Bench flow %s', lpad((n - 1)::text, 4, '0')) END,
                'published', '{}', 1, 0, $3::timestamptz - interval '1 day' + n * interval '1 second',
                $3::timestamptz - interval '1 day' + n * interval '1 second' + interval '1 minute', $4
           FROM unnest($1::uuid[]) WITH ORDINALITY AS ids (id, n)
         RETURNING id, created_at
       )
       INSERT INTO flow_versions (flow_id, version, definition, created_at, updated_at, modified_by)
       SELECT id, 1, $5, created_at, created_at, $4 FROM f`,
      [flowIds, ORGANIZATION_ID, start, BENCH_SUBJECT, DEFINITION],
    );

    await loadWithoutConstraints(client, 'flow_executions', step, async () => {
      // Row k of `total` in time order. Row k belongs to the hot flow when floor(k*hot/total) steps
      // up at k (spreads the hot flow evenly); that value is then its run number. The others are
      // dealt round-robin to the small flows, so each gets exactly perSmallFlow, in time order.
      // The newest 50 wait (queued) behind 10 active ones: the organization sits at the default
      // concurrency limit of 10, as the service's admission would leave it.
      await step(
        `${total} executions`,
        `INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, input_task_name,
                                        triggered_task_executor_name, pricing_config_id, modified_by, created_at, updated_at)
         SELECT $1, ids[x.flow + 1], 1, s.status, x.input, x.run_number, 'receive', NULL, NULL,
                CASE WHEN s.status IN ('queued', 'deleted') THEN $8 ELSE $9 END,
                x.created_at,
                CASE WHEN s.status = 'queued' THEN x.created_at ELSE x.created_at + (2 + x.h % 600) * interval '1 second' END
           FROM (SELECT $7::uuid[] AS ids) flows,
                generate_series(1::bigint, $2::bigint) AS k,
                LATERAL (SELECT (k * $3) / $2 AS hot_upto, ((k - 1) * $3) / $2 AS hot_before) c,
                LATERAL (
                  SELECT CASE WHEN c.hot_upto > c.hot_before THEN 0 ELSE 1 + (k - c.hot_upto - 1) % $4 END AS flow,
                         CASE WHEN c.hot_upto > c.hot_before THEN c.hot_upto ELSE 1 + (k - c.hot_upto - 1) / $4 END AS run_number,
                         -- plus up to 999 µs (less than a step), so timestamps carry microseconds as clock_timestamp()'s do
                         $5::timestamptz + (k * $6 + abs(hashint8(k * 31) % 1000)) * interval '1 microsecond' AS created_at,
                         abs(hashint8(k) % 1000) AS bucket,
                         abs(hashint8(-k) % 100000) AS h,
                         jsonb_build_object(
                           'file_key', format('uploads/%s/%s.pdf', to_char($5::timestamptz + (k * $6) * interval '1 microsecond', 'YYYY/MM/DD'), md5(k::text)),
                           'customer_id', 'cus_' || left(md5((k % 5000)::text), 14),
                           'source', (ARRAY['email', 'api', 'upload', 'sftp'])[1 + abs(hashint8(k * 7) % 4)],
                           'priority', CASE WHEN k % 10 = 0 THEN 'high' ELSE 'normal' END,
                           'metadata', jsonb_build_object('pages', 1 + k % 12, 'sender', format('ap-%s@example.com', k % 997), 'language', 'en')
                         ) AS input
                ) x,
                LATERAL (
                  SELECT CASE
                           WHEN k > $2 - 50 THEN 'queued'
                           WHEN k > $2 - 60 THEN (ARRAY['running', 'running', 'running', 'running', 'running', 'running',
                                                        'awaiting_input', 'awaiting_input', 'cancel_requested', 'cancel_requested'])[$2 - 50 - k + 1]
                           WHEN x.bucket < 790 THEN 'completed'
                           WHEN x.bucket < 870 THEN 'failed'
                           WHEN x.bucket < 910 THEN 'deleted'
                           WHEN x.bucket < 940 THEN 'cancelled'
                           WHEN x.bucket < 970 THEN 'stale'
                           ELSE 'edited'
                         END AS status
                ) s`,
        [ORGANIZATION_ID, total, hot, smallFlows, start, stepMicros, flowIds, BENCH_SUBJECT, WORKER_SUBJECT],
      );
    });

    // One `receive` attempt per hot-flow execution, shaped like a worker's report, and its tags:
    // source:<email|api|upload|sftp> on every one (a quarter each: common), priority:high on a
    // tenth, customer:acme on one in 2,000 (rare).
    await step(
      'task executions',
      `INSERT INTO task_executions (organization_id, flow_execution_id, task_name, task_execution_idx, processing_status, input, output,
                                    started_at, completed_at, credits, modified_by, created_at, updated_at)
       SELECT organization_id, id, 'receive', 0, CASE WHEN status IN ('queued', 'running') THEN 'running' ELSE 'completed' END,
              input, jsonb_build_object('document_url', 'https://files.example.com/' || (input->>'file_key'), 'pages', input->'metadata'->'pages'),
              created_at, updated_at, 1 + run_number % 5, $2, created_at, updated_at
         FROM flow_executions WHERE flow_id = $1`,
      [flowIds[0], WORKER_SUBJECT],
    );
    await step(
      'task execution tags',
      `INSERT INTO task_execution_tags (organization_id, flow_execution_id, flow_id, execution_deleted, task_name, tag_type, tag, modified_by, created_at, updated_at)
       SELECT fe.organization_id, fe.id, fe.flow_id, fe.status = 'deleted', 'receive', tag.tag_type, tag.tag, $2, fe.created_at, fe.created_at
         FROM flow_executions fe,
              LATERAL (VALUES ('source', fe.input->>'source', true),
                              ('priority', 'high', fe.input->>'priority' = 'high'),
                              ('customer', 'acme', fe.run_number % 2000 = 0)) AS tag (tag_type, tag, present)
        WHERE fe.flow_id = $1 AND tag.present`,
      [flowIds[0], WORKER_SUBJECT],
    );

    await step(
      'flow counters',
      `UPDATE flows f SET executions_count = x.n, last_execution_at = x.last
         FROM (SELECT flow_id, count(*)::int AS n, max(created_at) AS last FROM flow_executions GROUP BY flow_id) x
        WHERE f.id = x.flow_id`,
    );
    await step('VACUUM ANALYZE', `VACUUM ANALYZE`);
    await check(step, log);

    const fixture: Fixture = {
      scale,
      organizationId: ORGANIZATION_ID,
      hotFlowId: flowIds[0],
      smallFlowId: flowIds[1],
      postFlowId: flowIds[2],
      ...shape,
      taskExecutions: hot,
      tags: await tagCounts(client, flowIds[0]),
    };
    await client.query(`CREATE TABLE bench_seed (seed_version integer NOT NULL, seeded_at timestamptz NOT NULL DEFAULT now(), fixture jsonb NOT NULL)`);
    await client.query(`INSERT INTO bench_seed (seed_version, fixture) VALUES ($1, $2)`, [SEED_VERSION, fixture]);
  } finally {
    await client.end();
  }
}

/**
 * Runs `load` with the table's constraints (its own and the foreign keys pointing at it) dropped,
 * then restores them from their own definitions: one index build each instead of a million
 * random-UUID index insertions and foreign-key checks. The secondary indexes stay: an `IN (...)`
 * predicate does not deparse back to the migration's text, and a partial index the planner may
 * not match would skew the benchmark. The constraints after are checked to equal those before.
 */
async function loadWithoutConstraints(client: Client, table: string, step: Step, load: () => Promise<void>): Promise<void> {
  const constraints = async () => {
    const { rows } = await client.query(
      `SELECT conname AS name, conrelid::regclass::text AS on_table, contype, pg_get_constraintdef(oid) AS definition
         FROM pg_constraint WHERE conrelid = $1::regclass OR confrelid = $1::regclass
        ORDER BY conname`,
      [table],
    );
    return rows as { name: string; on_table: string; contype: string; definition: string }[];
  };
  const before = await constraints();
  // Foreign keys go first and come back last: the primary key cannot go while they point at it.
  const foreignKeysFirst = [...before].sort((a, b) => Number(b.contype === 'f') - Number(a.contype === 'f'));
  for (const c of foreignKeysFirst) await client.query(`ALTER TABLE ${c.on_table} DROP CONSTRAINT ${c.name}`);

  await load();

  for (const c of foreignKeysFirst.reverse()) {
    await step(`${c.on_table}.${c.name}`, `ALTER TABLE ${c.on_table} ADD CONSTRAINT ${c.name} ${c.definition}`);
  }
  if (JSON.stringify(await constraints()) !== JSON.stringify(before)) throw new Error(`the constraints of ${table} were not restored exactly`);
}

/** The invariants the service keeps, checked on the seeded data; a failed check stops the benchmark. */
async function check(step: Step, log: (message: string) => void): Promise<void> {
  const { rows } = await step(
    'consistency checks',
    `SELECT
       (SELECT count(*) FROM (SELECT run_number, row_number() OVER (PARTITION BY flow_id ORDER BY created_at, id) AS rn
                                FROM flow_executions) r WHERE r.run_number <> r.rn)::int AS run_numbers_out_of_order,
       (SELECT count(*) FROM flows f
          LEFT JOIN (SELECT flow_id, count(*) AS n, max(run_number) AS top, max(created_at) AS last FROM flow_executions GROUP BY flow_id) x
            ON x.flow_id = f.id
         WHERE x.n IS NULL OR f.executions_count <> x.n OR x.top <> x.n OR f.last_execution_at IS DISTINCT FROM x.last)::int AS flows_with_wrong_counters,
       (SELECT count(DISTINCT status) FROM flow_executions)::int AS statuses,
       (SELECT count(*) FROM flow_executions WHERE status IN ('running', 'awaiting_input', 'cancel_requested'))::int AS active,
       (SELECT avg(octet_length(input::text)) FROM flow_executions)::int AS input_bytes`,
  );
  const r = rows[0];
  const problems = [
    r.run_numbers_out_of_order !== 0 && `${r.run_numbers_out_of_order} run numbers out of created_at order`,
    r.flows_with_wrong_counters !== 0 && `${r.flows_with_wrong_counters} flows with wrong executions_count/last_execution_at`,
    r.statuses !== 10 && `only ${r.statuses} of the 10 statuses`,
    r.active !== 10 && `${r.active} active executions instead of 10`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`seeded data is inconsistent: ${problems.join('; ')}`);
  log(`  checks passed (inputs average ${r.input_bytes} bytes of JSON)`);
}

/** The rare and common tags the scenarios filter by, and how many of the hot flow's live executions carry each. */
async function tagCounts(client: Client, hotFlowId: string): Promise<Fixture['tags']> {
  const count = async (tagType: string, tag: string) => {
    const { rows } = await client.query(
      `SELECT count(DISTINCT t.flow_execution_id)::int AS n FROM task_execution_tags t JOIN flow_executions fe ON fe.id = t.flow_execution_id
        WHERE fe.flow_id = $1 AND fe.status <> 'deleted' AND t.tag_type = $2 AND t.tag = $3 AND t.status = 'active'`,
      [hotFlowId, tagType, tag],
    );
    return rows[0].n as number;
  };
  return { rare: 'customer:acme', common: 'source:email', rareCount: await count('customer', 'acme'), commonCount: await count('source', 'email') };
}

const NEIGHBOUR_ORGANIZATION_ID = 'b0000000-0000-4000-8000-00000000be9d';
const NEIGHBOUR_FLOW_ID = 'b0000000-0000-4000-8000-0000000f1e9d';

/**
 * A second organization for the noisy-neighbour scenario: one flow whose 1,000 executions are
 * copies of the small flow's. Made once, on first use; the ids of its executions are returned.
 */
export async function ensureNeighbour(url: string, fixture: Fixture): Promise<{ organizationId: string; executionIds: string[] }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    const { rowCount } = await client.query(
      `INSERT INTO flows (id, organization_id, display_name, status, latest_version, executions_count, created_at, updated_at, modified_by)
       SELECT $1, $2, 'Neighbour flow', 'published', 1, 0, created_at, updated_at, modified_by FROM flows WHERE id = $3
       ON CONFLICT (id) DO NOTHING`,
      [NEIGHBOUR_FLOW_ID, NEIGHBOUR_ORGANIZATION_ID, fixture.smallFlowId],
    );
    if (rowCount) {
      await client.query(
        `INSERT INTO flow_versions (flow_id, version, definition, created_at, updated_at, modified_by)
         SELECT $1, version, definition, created_at, updated_at, modified_by FROM flow_versions WHERE flow_id = $2`,
        [NEIGHBOUR_FLOW_ID, fixture.smallFlowId],
      );
      await client.query(
        `INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, input_task_name, modified_by, created_at, updated_at)
         SELECT $1, $2, flow_version, CASE WHEN status IN ('queued', 'running', 'awaiting_input', 'cancel_requested') THEN 'completed' ELSE status END,
                input, run_number, input_task_name, modified_by, created_at, updated_at
           FROM flow_executions WHERE flow_id = $3`,
        [NEIGHBOUR_ORGANIZATION_ID, NEIGHBOUR_FLOW_ID, fixture.smallFlowId],
      );
      await client.query(
        `UPDATE flows SET executions_count = (SELECT count(*) FROM flow_executions WHERE flow_id = $1),
                          last_execution_at = (SELECT max(created_at) FROM flow_executions WHERE flow_id = $1) WHERE id = $1`,
        [NEIGHBOUR_FLOW_ID],
      );
    }
    await client.query('COMMIT');
    const { rows } = await client.query(`SELECT id FROM flow_executions WHERE flow_id = $1 AND status <> 'deleted' ORDER BY run_number`, [NEIGHBOUR_FLOW_ID]);
    return { organizationId: NEIGHBOUR_ORGANIZATION_ID, executionIds: rows.map((r) => r.id as string) };
  } finally {
    await client.end();
  }
}

/**
 * Drops what earlier runs' POST scenario created, so every run starts from the seeded data, and
 * gives the organization a limit high enough that the creates run rather than queue.
 */
async function resetPostFlow(client: Client, fixture: Fixture): Promise<void> {
  await client.query(`UPDATE organizations SET max_concurrent_executions = 1000000 WHERE id = $1`, [fixture.organizationId]);
  const { rowCount } = await client.query(`DELETE FROM flow_executions WHERE flow_id = $1 AND run_number > $2`, [fixture.postFlowId, fixture.perSmallFlow]);
  if (!rowCount) return;
  await client.query(
    `UPDATE flows SET executions_count = $2, last_execution_at = (SELECT max(created_at) FROM flow_executions WHERE flow_id = $1) WHERE id = $1`,
    [fixture.postFlowId, fixture.perSmallFlow],
  );
  await client.query(`VACUUM ANALYZE flow_executions`);
}
