import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createExecution, createFlow, LINEAR_TASKS } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { eventually } from '../utils/eventually';
import { newOrg, signToken } from '../utils/tokens';

const TASKS = '/api/task-executions';
const EXECUTIONS = '/api/flow-executions';
type Org = Awaited<ReturnType<typeof newOrg>>;

/** The path of a `Link: <...>; rel="next"` header, or null. */
const nextLink = (link: string | undefined) => (link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : null);

/** Polls until the database shows a backend of this database waiting on a lock (bounded). */
async function waitForLockWaiter(db: Client): Promise<void> {
  const waiting = async () =>
    (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n as number;
  await eventually(waiting, (n) => n > 0, 5_000).catch(() => {
    throw new Error('no request ever waited on the lock');
  });
}

describe('resource limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  async function executionWithTasks(org: Org, attempts: number) {
    const flowId = await createFlow(t, org.auth, LINEAR_TASKS);
    const execution = await createExecution(t, org.auth, flowId);
    for (let idx = 0; idx < attempts; idx++) {
      for (const task of LINEAR_TASKS) {
        await t
          .http()
          .post(TASKS)
          .set(org.auth('worker'))
          .send({ flow_execution_id: execution.id, task_name: task.name, task_execution_idx: idx, processing_status: 'completed', tags: [`attempt:${idx}`] })
          .expect(201);
      }
    }
    return { flowId, execution };
  }

  describe('GET /api/task-executions is bounded', () => {
    it('answers at most limit rows, and pages by cursor through every row exactly once, newest first', async () => {
      const org = await newOrg();
      await executionWithTasks(org, 6); // 18 task executions
      const all = await t.http().get(TASKS).query({ limit: 1000 }).set(org.auth('app_user')).expect(200);
      expect(all.body.task_executions).toHaveLength(18);
      expect(all.headers.link).toBeUndefined();

      const seen: string[] = [];
      let path: string | null = `${TASKS}?limit=5`;
      let pages = 0;
      while (path && pages++ < 10) {
        const res = await t.http().get(path).set(org.auth('app_user')).expect(200);
        expect(res.body.task_executions.length).toBeLessThanOrEqual(5);
        seen.push(...res.body.task_executions.map((te: { id: string }) => te.id));
        path = nextLink(res.headers.link);
        if (path) expect(path).toMatch(/^\/api\/task-executions\?limit=5&after=[0-9a-f-]{36}$/);
      }
      expect(pages).toBe(4); // 5 + 5 + 5 + 3
      expect(seen).toEqual(all.body.task_executions.map((te: { id: string }) => te.id));
      expect(new Set(seen).size).toBe(18);
    });

    it('defaults to 1000 rows, and keeps the other filters across pages', async () => {
      const org = await newOrg();
      const { execution } = await executionWithTasks(org, 3);
      const first = await t.http().get(TASKS).query({ flow_execution_id: execution.id, task_name: 'extract', limit: 2 }).set(org.auth()).expect(200);
      expect(first.body.task_executions.map((te: { task_execution_idx: number }) => te.task_execution_idx)).toEqual([2, 1]);
      const next = nextLink(first.headers.link)!;
      expect(next).toContain(`flow_execution_id=${execution.id}`);
      const second = await t.http().get(next).set(org.auth()).expect(200);
      expect(second.body.task_executions.map((te: { task_execution_idx: number }) => te.task_execution_idx)).toEqual([0]);
      expect(second.headers.link).toBeUndefined();
    });

    it('answers 422 for a limit outside 1..1000, and 400 for a cursor that is not a task execution of the organization', async () => {
      const org = await newOrg();
      const other = await newOrg();
      await executionWithTasks(org, 1);
      const foreign = await executionWithTasks(other, 1);
      const foreignTask = (await t.http().get(TASKS).query({ flow_execution_id: foreign.execution.id }).set(other.auth()).expect(200)).body.task_executions[0];

      for (const limit of ['0', '1001']) {
        const res = await t.http().get(TASKS).query({ limit }).set(org.auth()).expect(422);
        expect(res.body.detail[0].loc).toEqual(['query', 'limit']);
        expect(res.body.detail[0].msg).toMatch(limit === '0' ? /1/ : /1000/);
      }
      const res = await t.http().get(TASKS).query({ after: foreignTask.id }).set(org.auth()).expect(400);
      expectEnvelope(res, 400, 'bad_request');
      expect(JSON.stringify(res.body)).not.toContain(foreign.execution.id);
    });
  });

  describe('pages end early past their size budget, and continue by cursor', () => {
    // Random text: PostgreSQL compresses repetitive JSON, and the budget counts stored sizes.
    const bulky = (kb: number) => ({ blob: randomBytes(kb * 768).toString('base64') });

    it('task executions: about 2 MiB a page', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth, LINEAR_TASKS);
      const execution = await createExecution(t, org.auth, flowId);
      for (let idx = 0; idx < 5; idx++) {
        await t
          .http()
          .post(TASKS)
          .set(org.auth('worker'))
          .send({ flow_execution_id: execution.id, task_name: 'receive', task_execution_idx: idx, processing_status: 'completed', output: bulky(700) })
          .expect(201);
      }
      const seen: string[] = [];
      let path: string | null = `${TASKS}?flow_execution_id=${execution.id}`;
      const sizes: number[] = [];
      for (let pages = 0; path && pages < 10; pages++) {
        const res = await t.http().get(path).set(org.auth()).expect(200);
        sizes.push(res.body.task_executions.length);
        seen.push(...res.body.task_executions.map((te: { task_execution_idx: number }) => te.task_execution_idx));
        path = nextLink(res.headers.link);
      }
      expect(sizes).toEqual([3, 2]);
      expect(seen).toEqual([4, 3, 2, 1, 0]);
    });

    it('flow executions: about 4 MiB a page, the Link continuing by cursor', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth, [{ name: 'receive' }]);
      for (let i = 0; i < 6; i++) await createExecution(t, org.auth, flowId, { file_key: `${i}.pdf`, ...bulky(900) });
      const first = await t.http().get(EXECUTIONS).query({ flow_id: flowId, page_size: 100 }).set(org.auth()).expect(200);
      expect(first.body).toHaveLength(5);
      const rest = await t.http().get(nextLink(first.headers.link)!).set(org.auth()).expect(200);
      expect(rest.body.map((e: { input: { file_key: string } }) => e.input.file_key)).toEqual(['0.pdf']);
      expect(rest.headers.link).toBeUndefined();
    });
  });

  describe('documented bounds answer 422 naming the bound, and change nothing', () => {
    it('executions list filters: at most 10 tags, 10 excluded tags, 10 statuses', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const many = (prefix: string) => Array.from({ length: 11 }, (_, i) => `${prefix}=k:${i}`).join('&');
      for (const [param, query] of [
        ['tags', many('tags')],
        ['tags_exclude', many('tags_exclude')],
        ['status', Array.from({ length: 11 }, () => 'status=queued').join('&')],
      ]) {
        const res = await t.http().get(`${EXECUTIONS}?flow_id=${flowId}&${query}`).set(org.auth()).expect(422);
        expect(res.body.detail).toEqual([expect.objectContaining({ loc: ['query', param], msg: expect.stringContaining('10') })]);
      }
      await t
        .http()
        .get(`${EXECUTIONS}?flow_id=${flowId}&${many('tags').replace(/&tags=k:10$/, '')}`)
        .set(org.auth())
        .expect(200);
    });

    it('tags per task execution: 100 in one request, and 100 active on the task across requests', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const execution = await createExecution(t, org.auth, flowId);
      const tags = (from: number, n: number) => Array.from({ length: n }, (_, i) => `k:${from + i}`);
      const report = (idx: number, body: Record<string, unknown>) =>
        t
          .http()
          .post(TASKS)
          .set(org.auth('worker'))
          .send({ flow_execution_id: execution.id, task_name: 'receive', task_execution_idx: idx, processing_status: 'running', ...body });

      const tooMany = await report(0, { tags: tags(0, 101) }).expect(422);
      expect(tooMany.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'tags'], msg: expect.stringContaining('100') })]);
      await report(0, { tags: tags(0, 60) }).expect(201);
      const adding = await report(1, { tags: tags(60, 41) }).expect(422);
      expect(adding.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'tags'], type: 'too_many_tags', msg: expect.stringContaining('100') })]);

      const listed = await t.http().get(TASKS).query({ flow_execution_id: execution.id }).set(org.auth()).expect(200);
      expect(listed.body.task_executions.map((te: { task_execution_idx: number }) => te.task_execution_idx)).toEqual([0]);
      expect(listed.body.task_executions[0].tags).toHaveLength(60);
      await report(1, { tags: tags(60, 40) }).expect(201);

      // PATCH /api/task-tags adds to the same tags: one more is one too many, and the batch is refused whole.
      const patch = (from: number, n: number) =>
        t
          .http()
          .patch('/api/task-tags')
          .set(org.auth())
          .send({
            tags: tags(from, n).map((tag) => ({
              operation: 'add',
              flow_execution_id: execution.id,
              task_name: 'receive',
              tag_type: tag.split(':')[0],
              tag: tag.split(':')[1],
            })),
          });
      const over = await patch(100, 2).expect(422);
      expect(over.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'tags'], type: 'too_many_tags', msg: expect.stringContaining('100') })]);
      const after = await t.http().get(TASKS).query({ flow_execution_id: execution.id }).set(org.auth()).expect(200);
      expect(after.body.task_executions[0].tags).toHaveLength(100);
    });

    it('task-status batches: at most 100', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      const execution = await createExecution(t, org.auth, flowId);
      const statuses = Array.from({ length: 101 }, () => ({ task_name: 'receive', status: 'running' }));
      const res = await t.http().post(`${EXECUTIONS}/${execution.id}/task-status`).set(org.auth('worker')).send({ statuses }).expect(422);
      expect(res.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'statuses'], msg: expect.stringContaining('100') })]);
    });

    it('flows: at most 100 tags on a flow, 10 tag filter groups of 100 values', async () => {
      const org = await newOrg();
      const created = await t
        .http()
        .post('/api/flows')
        .set(org.auth())
        .send({ display_name: 'Tagged', definition: {}, tags: Array.from({ length: 101 }, (_, i) => `t${i}`) })
        .expect(422);
      expect(created.body.detail).toEqual(expect.arrayContaining([expect.objectContaining({ loc: ['body', 'tags'], msg: expect.stringContaining('100') })]));

      const groups = JSON.stringify(Array.from({ length: 11 }, () => ({ values: ['a'] })));
      const listed = await t.http().get('/api/flows').query({ tag_filters: groups }).set(org.auth()).expect(422);
      expect(listed.body.detail).toEqual([expect.objectContaining({ loc: ['query', 'tag_filters'], msg: expect.stringContaining('10') })]);
      const values = JSON.stringify([{ values: Array.from({ length: 101 }, (_, i) => `v${i}`) }]);
      const wide = await t.http().get('/api/flows').query({ tag_filters: values }).set(org.auth()).expect(422);
      expect(wide.body.detail).toEqual([expect.objectContaining({ loc: ['query', 'tag_filters', 0, 'values'], msg: expect.stringContaining('100') })]);
    });
  });

  describe('tag filters, whichever plan the tag selects', () => {
    it('lists the same executions as a direct query, for a rare and a common tag, by page and by cursor', async () => {
      const org = await newOrg();
      const flowId = await createFlow(t, org.auth);
      // 160 executions straight in SQL (runs numbered as the service does): 130 carry the common tag
      // (over the 100 below which the filter starts from the tag), 3 the rare one.
      await t.dataSource.query(
        `WITH fe AS (
           INSERT INTO flow_executions (organization_id, flow_id, flow_version, status, input, run_number, modified_by, created_at, updated_at)
           SELECT $1, $2, 1, CASE WHEN n % 10 = 0 THEN 'deleted' ELSE 'completed' END, '{}', n, 'test',
                  now() - (200 - n) * interval '1 second', now() - (200 - n) * interval '1 second'
             FROM generate_series(1, 160) n
           RETURNING id, run_number)
         INSERT INTO task_execution_tags (organization_id, flow_execution_id, flow_id, execution_deleted, task_name, tag_type, tag, status)
         SELECT $1, fe.id, $2, fe.run_number % 10 = 0, 'receive', tag.tag_type, tag.tag, CASE WHEN fe.run_number = 7 THEN 'deleted' ELSE 'active' END
           FROM fe, LATERAL (VALUES ('source', 'email', fe.run_number <= 130), ('customer', 'acme', fe.run_number % 50 = 7)) tag (tag_type, tag, present)
          WHERE tag.present`,
        [org.id, flowId],
      );
      await t.dataSource.query(`UPDATE flows SET executions_count = 160 WHERE id = $1`, [flowId]);
      const truth = async (tag: string, exclude?: string) => {
        const rows: { id: string }[] = await t.dataSource.query(
          `SELECT fe.id FROM flow_executions fe WHERE fe.flow_id = $1 AND fe.status <> 'deleted'
              AND EXISTS (SELECT 1 FROM task_execution_tags t WHERE t.flow_execution_id = fe.id AND t.status = 'active' AND t.tag_type || ':' || t.tag = $2)
              AND NOT EXISTS (SELECT 1 FROM task_execution_tags t WHERE t.flow_execution_id = fe.id AND t.status = 'active' AND t.tag_type || ':' || t.tag = $3)
            ORDER BY fe.created_at DESC, fe.id DESC`,
          [flowId, tag, exclude ?? ''],
        );
        return rows.map((r) => r.id);
      };

      for (const [tag, exclude] of [['customer:acme'], ['source:email'], ['source:email', 'customer:acme']]) {
        const expected = await truth(tag, exclude);
        expect(expected.length).toBeGreaterThan(0);
        const query = `flow_id=${flowId}&tags=${tag}${exclude ? `&tags_exclude=${exclude}` : ''}&page_size=20`;
        const whole = await t
          .http()
          .get(`${EXECUTIONS}?flow_id=${flowId}&tags=${tag}${exclude ? `&tags_exclude=${exclude}` : ''}&page_size=1000`)
          .set(org.auth())
          .expect(200);
        expect(whole.body.map((e: { id: string }) => e.id)).toEqual(expected);

        const byCursor: string[] = [];
        let path: string | null = `${EXECUTIONS}?${query}`;
        for (let pages = 0; path && pages < 20; pages++) {
          const res = await t.http().get(path).set(org.auth()).expect(200);
          byCursor.push(...res.body.map((e: { id: string }) => e.id));
          path = nextLink(res.headers.link);
        }
        expect(byCursor).toEqual(expected);
        const page3 = await t.http().get(`${EXECUTIONS}?${query}&page=3`).set(org.auth()).expect(200);
        expect(page3.body.map((e: { id: string }) => e.id)).toEqual(expected.slice(40, 60));
      }
    });
  });

  describe('timeouts answer 503 with Retry-After', () => {
    let db: Client;
    beforeEach(async () => {
      db = new Client({ connectionString: t.config.databaseUrl });
      await db.connect();
    });
    afterEach(async () => {
      await db.query('ROLLBACK').catch(() => undefined);
      await db.end();
    });

    it('a statement over DB_STATEMENT_TIMEOUT_MS is cancelled: 503, nothing changed', async () => {
      const slow = await createTestApp({ DB_STATEMENT_TIMEOUT_MS: '300' });
      try {
        const org = await newOrg();
        const flowId = await createFlow(slow, org.auth);
        const execution = await createExecution(slow, org.auth, flowId);
        // A request whose statement waits on a row lock longer than the timeout...
        await db.query('BEGIN');
        await db.query(`SELECT 1 FROM flow_executions WHERE id = $1 FOR UPDATE`, [execution.id]);
        const res = await slow.http().post(`${EXECUTIONS}/${execution.id}/cancel`).set(org.auth());
        await db.query('ROLLBACK');
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('1');
        expect(res.body.error).toEqual({ code: 'service_unavailable', message: expect.stringMatching(/too long/), details: null });
        expect(JSON.stringify(res.body)).not.toMatch(/statement timeout|canceling|57014/i);
        const after = await slow.http().get(`${EXECUTIONS}/${execution.id}`).set(org.auth()).expect(200);
        expect(after.body.status).toBe('running');

        // ...and so does pg_sleep on the API's own connections (the timeout is theirs, not the test's).
        await expect(slow.dataSource.query(`SELECT pg_sleep(2)`)).rejects.toMatchObject({ driverError: { code: '57014' } });
      } finally {
        await slow.close();
      }
    });

    it('waiting longer than DB_POOL_ACQUIRE_TIMEOUT_MS for a connection: 503, and the held request still completes', async () => {
      const small = await createTestApp({ DB_POOL_SIZE: '1', DB_POOL_ACQUIRE_TIMEOUT_MS: '200', DB_STATEMENT_TIMEOUT_MS: '20000' });
      try {
        const org = await newOrg();
        const flowId = await createFlow(small, org.auth);
        const execution = await createExecution(small, org.auth, flowId);
        await db.query('BEGIN');
        await db.query(`SELECT 1 FROM flow_executions WHERE id = $1 FOR UPDATE`, [execution.id]);
        // This request holds the only pooled connection while it waits on the row lock.
        const holding = small
          .http()
          .post(`${EXECUTIONS}/${execution.id}/cancel`)
          .set(org.auth())
          .then((r) => r);
        await waitForLockWaiter(db);
        const res = await small.http().get(`${EXECUTIONS}/${execution.id}`).set(org.auth());
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('1');
        expect(res.body.error).toEqual({ code: 'service_unavailable', message: 'The service is busy, try again shortly', details: null });
        await db.query('COMMIT');
        expect((await holding).status).toBe(204);
        await small.http().get(`${EXECUTIONS}/${execution.id}`).set(org.auth()).expect(200);
      } finally {
        await small.close();
      }
    });
  });

  describe('rate limits', () => {
    it('are off when RATE_LIMIT_RPS is unset', async () => {
      const org = await newOrg();
      const res = await t.http().get('/api/flows').set(org.auth()).expect(200);
      expect(res.headers['ratelimit-policy']).toBeUndefined();
      expect(res.headers.ratelimit).toBeUndefined();
    });

    it('budget each organization and each caller apart: 429 rate_limited with Retry-After and the RateLimit headers', async () => {
      // A token per 100 s: nothing refills during the test. Organizations get 4 at once, each caller 3.
      const limited = await createTestApp({
        RATE_LIMIT_RPS: '0.01',
        RATE_LIMIT_BURST: '4',
        RATE_LIMIT_CREDENTIAL_RPS: '0.01',
        RATE_LIMIT_CREDENTIAL_BURST: '3',
      });
      try {
        const org = await newOrg();
        const other = await newOrg();
        const as = async (orgId: string, sub: string) => ({ Authorization: `Bearer ${await signToken(orgId, 'app_user', { sub })}` });
        const [alice, bob, carol] = [await as(org.id, 'alice'), await as(org.id, 'bob'), await as(other.id, 'carol')];
        const get = (auth: Record<string, string>) => limited.http().get('/api/flows').set(auth);

        const first = await get(alice).expect(200);
        expect(first.headers['ratelimit-policy']).toBe('"organization";q=4;w=400, "credential";q=3;w=300');
        expect(first.headers.ratelimit).toBe('"credential";r=2;t=100');
        await get(alice).expect(200);
        await get(alice).expect(200);
        const overCaller = await get(alice).expect(429);
        expect(overCaller.body.error).toMatchObject({ code: 'rate_limited', details: { policy: 'credential', retry_after: 100 } });
        expect(overCaller.headers['retry-after']).toBe('100');
        expect(overCaller.headers.ratelimit).toBe('"credential";r=0;t=100');
        expect(overCaller.body.request_id).toEqual(overCaller.headers['x-request-id']);

        // Bob has a budget of his own, but the organization's has one token left.
        const bobs = await get(bob).expect(200);
        expect(bobs.headers.ratelimit).toBe('"organization";r=0;t=100');
        const overOrg = await get(bob).expect(429);
        expect(overOrg.body.error.details).toEqual({ policy: 'organization', retry_after: 100 });

        // Another organization is untouched; failed authentication and health checks cost nothing.
        await get(carol).expect(200);
        await limited.http().get('/api/flows').set({ Authorization: 'Bearer nope' }).expect(401);
        const health = await limited.http().get('/health/live').expect(200);
        expect(health.headers.ratelimit).toBeUndefined();
        await get(carol).expect(200);

        // A list costs a token per 100 rows it asks for: 300 rows take dave's whole budget of 3.
        const dave = await as((await newOrg()).id, 'dave');
        const list = await limited.http().get(EXECUTIONS).query({ flow_id: randomUUID(), page_size: 300 }).set(dave).expect(404);
        expect(list.headers.ratelimit).toBe('"credential";r=0;t=300');
        await get(dave).expect(429);
      } finally {
        await limited.close();
      }
    });

    it('names a bad configuration at boot', () => {
      const { loadConfig } = jest.requireActual<typeof import('../../src/config/app-config')>('../../src/config/app-config');
      const base = { DATABASE_URL: 'postgres://x@y/z', JWT_SECRET: 'x'.repeat(32) };
      expect(() => loadConfig({ ...base, RATE_LIMIT_RPS: '0' })).toThrow(/RATE_LIMIT_RPS/);
      expect(() => loadConfig({ ...base, RATE_LIMIT_BURST: '5' })).toThrow(/RATE_LIMIT_BURST needs RATE_LIMIT_RPS/);
      expect(() => loadConfig({ ...base, DB_STATEMENT_TIMEOUT_MS: 'soon', DB_POOL_ACQUIRE_TIMEOUT_MS: '-1' })).toThrow(
        /DB_STATEMENT_TIMEOUT_MS.*DB_POOL_ACQUIRE_TIMEOUT_MS/,
      );
    });
  });
});
