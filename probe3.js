const { DataSource } = require('typeorm');
const { Pool, Client } = require('pg');
const { buildDataSourceOptions } = require('./dist/src/database/data-source-options');
const { driverPool } = require('./dist/src/database/driver-pool');
const url = 'postgres://postgres@127.0.0.1:5432/flows_bench_lead';
const Q = { name: 'g', text: process.argv[2] === 'ins' ? 'INSERT INTO bench_write_floor (body) VALUES ($1)' : 'SELECT $1::text AS x' };
(async () => {
  const ds = await new DataSource({ ...buildDataSourceOptions(url, { poolSize: 2 }), entities: [] }).initialize();
  const tp = driverPool(ds);
  const rp = new Pool({ connectionString: url, max: 2 });
  const c = new Client({ connectionString: url }); await c.connect();
  const t = { typeormPool: [], rawPool: [], client: [] };
  const q = { typeormPool: (x, p) => tp.query(x, p), rawPool: (x, p) => rp.query(x, p), client: (x, p) => c.query(x, p) };
  for (let r = 0; r < 10; r++) for (const k in q) for (let i = 0; i < 300; i++) { const s = performance.now(); await q[k](Q, ['{"a":1}']); t[k].push(performance.now() - s); }
  const med = (a) => a.sort((x, y) => x - y)[a.length >> 1].toFixed(3);
  for (const k in t) console.log(process.argv[2], k, med(t[k]));
  await ds.destroy(); await rp.end(); await c.end();
})();
