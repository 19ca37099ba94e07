const { DataSource } = require('typeorm');
const { Pool, Client } = require('pg');
const { buildDataSourceOptions } = require('./dist/src/database/data-source-options');
const { driverPool } = require('./dist/src/database/driver-pool');
const url = 'postgres://postgres@127.0.0.1:5432/flows_bench_lead';
const ORG='b0000000-0000-4000-8000-00000000be9c', FLOW='03135beb-d24f-4af1-b34f-90f2fdfbcc72';
const iso = (c) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const COLUMNS = `fe.id, fe.organization_id, fe.flow_id, fe.flow_version, fe.status, fe.input::text AS input, fe.run_number, fe.redrive_count,
  fe.triggered_task_executor_name, fe.pricing_config_id, fe.modified_by, fe.traceparent, fe.tracestate, ${iso('fe.created_at')} AS created_at, ${iso('fe.updated_at')} AS updated_at`;
const START = { name: 's1', text: `
    WITH head AS (
      SELECT f.organization_id AS org FROM flows f WHERE f.id = $2 AND f.organization_id = $1 AND f.latest_version = $3 AND NOT f.deleted
    ), fe AS (
      SELECT s.* FROM head CROSS JOIN LATERAL start_flow_execution(head.org, $2, $3, $4, $5, $6, $7, $8, $9, $10) s
    )
    SELECT EXISTS (SELECT 1 FROM head) AS current, ${COLUMNS}
      FROM (SELECT 1) one LEFT JOIN fe ON true` };
const params = [ORG, FLOW, 1, '{"a":1,"b":"some text here"}', 'receive', null, 'bench', 1000000, null, null];
(async () => {
  const ds = await new DataSource({ ...buildDataSourceOptions(url, { poolSize: 2 }), entities: [] }).initialize();
  const tp = driverPool(ds);
  const rp = new Pool({ connectionString: url, max: 2 });
  const c = new Client({ connectionString: url }); await c.connect();
  const c2 = new Client({ connectionString: url, options: '-c TimeZone=UTC' }); await c2.connect();
  const t = { typeormPool: [], rawPool: [], client: [], clientUTC: [] };
  const q = { typeormPool: (x, p) => tp.query(x, p), rawPool: (x, p) => rp.query(x, p), client: (x, p) => c.query(x, p), clientUTC: (x, p) => c2.query(x, p) };
  for (let r = 0; r < 6; r++) for (const k in q) for (let i = 0; i < 200; i++) { const s = performance.now(); await q[k](START, params); t[k].push(performance.now() - s); }
  const med = (a) => a.sort((x, y) => x - y)[a.length >> 1].toFixed(3);
  for (const k in t) console.log(k, med(t[k]));
  await ds.destroy(); await rp.end(); await c.end(); await c2.end();
})();
