const { DataSource } = require('typeorm');
const { buildDataSourceOptions } = require('./dist/src/database/data-source-options');
const { FlowExecutionsRepository } = require('./dist/src/flow-executions/flow-executions.repository');
const url = 'postgres://postgres@127.0.0.1:5432/flows_bench_lead';
const ORG='b0000000-0000-4000-8000-00000000be9c', FLOW='03135beb-d24f-4af1-b34f-90f2fdfbcc72';
(async () => {
  const ds = await new DataSource({ ...buildDataSourceOptions(url, { poolSize: 2 }), entities: [] }).initialize();
  const ex = new FlowExecutionsRepository(ds);
  const mode = process.argv[2];
  if (mode === 'nonotify') ex.notifyCreated = () => Promise.resolve();
  const t = [];
  for (let i = 0; i < 1200; i++) {
    const s = performance.now();
    await ex.start({ organizationId: ORG, flowId: FLOW, flowVersion: 1, input: { a: 1, b: 'some text here' }, inputTaskName: 'receive', triggeredTaskExecutorName: null, modifiedBy: 'bench', trace: null }, 1000000);
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b); console.log(mode, t[t.length >> 1].toFixed(3));
  await ds.destroy();
})();
