import { definitionOf, LINEAR_TASKS } from '../factories/flows';
import { ServerProcess, startServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';
import { eventually } from '../utils/eventually';

jest.setTimeout(300_000);

type Org = Awaited<ReturnType<typeof newOrg>>;

async function call(server: ServerProcess, org: Org, method: string, path: string, body?: unknown, role: 'org_admin' | 'worker' = 'org_admin') {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...org.auth(role), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** The value of one sample of /metrics (0 when absent). */
async function metric(server: ServerProcess, sample: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

const HEAD_HITS = 'flow_analysis_cache_hits_total{entry="head"}';
const VERSION_HITS = 'flow_analysis_cache_hits_total{entry="version"}';
const VERSION_MISSES = 'flow_analysis_cache_misses_total{entry="version"}';
const INVALIDATIONS = 'flow_analysis_cache_invalidations_total';

/**
 * Flow analyses are cached per process; a draft's new version, made on one process, drops the
 * flow's cached latest version on the other through the LISTEN connection, and the other's next
 * create pins the new version.
 */
describe('the flow analysis cache across processes', () => {
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    servers.push(...(await Promise.all([0, 1].map(() => startServerProcess({ DB_POOL_SIZE: '4' })))));
    await Promise.all(servers.map((s) => waitUntilReady(s)));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('task writes hit the cached version; a draft edit on one process invalidates the other, whose next create pins the new version', async () => {
    const [a, b] = servers;
    const org = await newOrg();
    const flow = await call(a, org, 'POST', '/api/flows', { display_name: 'Cached', definition: definitionOf(LINEAR_TASKS) });
    expect(flow.status).toBe(201);

    const first = await call(b, org, 'POST', '/api/flow-executions', { flow_id: flow.body.id, input: { file_key: 'a.pdf' } });
    expect([first.status, first.body.flow_version]).toEqual([201, 1]);

    // Task writes on b analyse the pinned version once, then find it.
    const [hitsBefore, missesBefore] = [await metric(b, VERSION_HITS), await metric(b, VERSION_MISSES)];
    for (let i = 0; i < 3; i++) {
      const written = await call(
        b,
        org,
        'POST',
        '/api/task-executions',
        { flow_execution_id: first.body.id, task_name: 'receive', task_execution_idx: i, processing_status: 'running' },
        'worker',
      );
      expect(written.status).toBe(201);
    }
    expect((await metric(b, VERSION_HITS)) + (await metric(b, VERSION_MISSES)) - hitsBefore - missesBefore).toBe(3);
    expect((await metric(b, VERSION_HITS)) - hitsBefore).toBeGreaterThanOrEqual(2);

    const again = await call(b, org, 'POST', '/api/flow-executions', { flow_id: flow.body.id, input: { file_key: 'b.pdf' } });
    expect([again.status, again.body.flow_version]).toEqual([201, 1]);
    const headHits = await metric(b, HEAD_HITS);

    const invalidations = await metric(b, INVALIDATIONS);
    const tasks = [{ name: 'intake', task_executor_name: 'receive_file' }, ...LINEAR_TASKS.slice(1)].map((t) =>
      t.name === 'extract' ? { ...t, parameters: { document_url: '{{intake.document_url}}' } } : t,
    );
    const edited = await call(a, org, 'PUT', `/api/flows/${flow.body.id}/definition`, { definition: definitionOf(tasks) });
    expect([edited.status, edited.body.version]).toEqual([200, 2]);
    await eventually(
      () => metric(b, INVALIDATIONS),
      (n) => n > invalidations,
    );

    const after = await call(b, org, 'POST', '/api/flow-executions', { flow_id: flow.body.id, input: { file_key: 'c.pdf' } });
    expect([after.status, after.body.flow_version]).toEqual([201, 2]);
    // Read again after the invalidation (a miss), then cached.
    expect(await metric(b, HEAD_HITS)).toBe(headHits);
    await call(b, org, 'POST', '/api/flow-executions', { flow_id: flow.body.id, input: { file_key: 'd.pdf' } });
    expect(await metric(b, HEAD_HITS)).toBeGreaterThan(headHits);
  });
});
