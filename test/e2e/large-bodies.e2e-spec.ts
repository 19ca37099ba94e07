import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { createFlow, definitionOf, orgWithExecution } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEnvelope } from '../utils/envelope';
import { asText, jsonWorkHere } from '../utils/json-work';
import { newOrg } from '../utils/tokens';

/**
 * Bodies of `JSON_WORKER_MIN_BYTES` or more are parsed and checked on a JSON worker thread
 * (src/common/json-worker): a create's input then reaches PostgreSQL as JSON text, never parsed on
 * the event loop, and every answer is the one a small body gets.
 */

const MIN_BYTES = 4096;
const CREATE = '/api/flow-executions';

type Org = Awaited<ReturnType<typeof newOrg>>;

describe('large bodies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ JSON_WORKER_MIN_BYTES: String(MIN_BYTES) });
  });
  afterAll(() => t.close());

  const filler = (n: number) => Array.from({ length: n }, (_, i) => ({ line: i, text: 'x'.repeat(20) }));
  const send = (org: Org, path: string, body: string, headers: Record<string, string> = {}) =>
    t.http().post(path).set(org.auth()).set(headers).set('Content-Type', 'application/json').send(body);
  const inputFlow = (org: Org, inputSchema: object) => createFlow(t, org.auth, [{ name: 'in', parameters: { input_schema: inputSchema } }]);

  const parsedHere = <T>(work: () => Promise<T>) => jsonWorkHere(MIN_BYTES, work);

  it('a create keeps its 1 MiB input as JSON text: never parsed on the event loop, stored and answered as sent', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth, [{ name: 'in' }]);
    const nested = JSON.parse('['.repeat(60) + '1' + ']'.repeat(60)) as unknown;
    // A member named __proto__ is a member (JSON.parse makes it an own property), not a prototype.
    const input = `{"__proto__":{"kept":true},${JSON.stringify({ items: Array.from({ length: 7_000 }, () => nested), note: 'ünïcödé \u2028' }).slice(1)}`;
    const body = `{"flow_id":"${flowId}","input":${input}}`;
    expect(body.length).toBeGreaterThan(800_000);

    const { result: answered, large } = await parsedHere(() => send(org, CREATE, body).buffer(true).parse(asText));
    expect(answered.status).toBe(201);
    expect(large).toBe(0);
    const created = { body: JSON.parse(answered.body as string) as { id: string; input: unknown } };
    // Compared as values (PostgreSQL orders an object's keys its own way), without printing a megabyte on failure.
    const sent = (JSON.parse(body) as { input: unknown }).input;
    expect(isDeepStrictEqual(created.body.input, sent)).toBe(true);

    const read = await t.http().get(`${CREATE}/${created.body.id}`).set(org.auth());
    expect(read.status).toBe(200);
    expect(isDeepStrictEqual(read.body.input, sent)).toBe(true);
    expect(Object.keys(read.body.input)).toContain('__proto__');
  });

  it("a task execution's large output and input are stored as their JSON text, never parsed on the event loop", async () => {
    const { org, execution } = await orgWithExecution(t);
    const output = { lines: filler(2_000), '': [null, true, 1.5, 'ü'] };
    const body = JSON.stringify({
      flow_execution_id: execution.id,
      task_name: 'extract',
      task_execution_idx: 0,
      processing_status: 'completed',
      input: [1, { a: 2 }],
      output,
    });
    const { result: answered, large } = await parsedHere(() =>
      t.http().post('/api/task-executions').set(org.auth('worker')).set('Content-Type', 'application/json').send(body).buffer(true).parse(asText),
    );
    expect(answered.status).toBe(201);
    expect(large).toBe(0);
    const created = JSON.parse(answered.body as string) as { output: unknown; input: unknown };
    expect(isDeepStrictEqual(created.output, output)).toBe(true);
    expect(created.input).toEqual([1, { a: 2 }]);
  });

  it("a task execution's writes neither parse nor walk its output on the event loop, whatever its size: create, progress, edit", async () => {
    // The same writes with an output of 200 lines and of 20,000 (about 800 KB): the JSON work on the event loop must not grow with it.
    const tags = Array.from({ length: 100 }, (_, i) => `t${i}:v`);
    const writes = async (lines: number) => {
      const { org, execution } = await orgWithExecution(t);
      const key = (task_name: string) => ({ flow_execution_id: execution.id, task_name, task_execution_idx: 0 });
      const output = (tag: string) => ({ tag, lines: filler(lines) });
      const write = (method: 'post' | 'put', body: object, headers: Record<string, string> = {}) =>
        parsedHere(() => {
          const http = t.http();
          return (method === 'post' ? http.post('/api/task-executions') : http.put('/api/task-executions'))
            .set(org.auth('worker'))
            .set(headers)
            .set('Content-Type', 'application/json')
            .send(JSON.stringify(body))
            .buffer(true)
            .parse(asText);
        });
      const steps: [string, 'post' | 'put', Record<string, unknown>, Record<string, string>?][] = [
        ['create', 'post', { ...key('receive'), processing_status: 'completed', output: output('created'), tags }, { 'Idempotency-Key': randomUUID() }],
        ['progress', 'post', { ...key('extract'), processing_status: 'running', input: { source: 'in' }, output: output('partial'), tags }],
        ['completion', 'put', { ...key('extract'), processing_status: 'completed', output: output('done'), terminal_task_status: 'completed', tags }],
        ['edit', 'put', { ...key('receive'), output: output('edited'), tags }],
      ];
      const work: Record<string, { large: number; stringified: number }> = {};
      for (const [step, method, body, headers] of steps) {
        const { result, large, stringified } = await write(method, body, headers);
        expect({ step, status: result.status }).toEqual({ step, status: method === 'post' ? 201 : 200 });
        const answer = JSON.parse(result.body as string) as { output: unknown; tags: unknown[] };
        expect({ step, same: isDeepStrictEqual(answer.output, body.output), tags: answer.tags.length }).toEqual({ step, same: true, tags: 100 });
        work[step] = { large, stringified };
      }
      const feed = await t.http().get('/api/flow-executions/events?after=0&limit=1000').set(org.auth());
      const edited = (feed.body.events as { type: string; task_execution?: { task_name: string; output: unknown; edited_status: string } }[])
        .filter((e) => e.type === 'task_execution.updated' && e.task_execution!.task_name === 'receive')
        .pop()!;
      expect(edited.task_execution!.edited_status).toBe('edited_not_reexecuted');
      expect(isDeepStrictEqual(edited.task_execution!.output, output('edited'))).toBe(true);
      return work;
    };
    const small = await writes(200);
    const large = await writes(20_000);
    for (const step of Object.keys(small)) {
      expect({ step, large: large[step].large }).toEqual({ step, large: 0 });
      // A walk of the larger output would call JSON.stringify about 60,000 times more (each line's keys and values).
      expect({ step, grew: large[step].stringified - small[step].stringified < 500 }).toEqual({ step, grew: true });
    }
  });

  it("checks a large input against the flow's schema off the event loop, with the items a small one gets", async () => {
    const org = await newOrg();
    const flowId = await inputFlow(org, {
      type: 'object',
      required: ['file_key'],
      properties: { file_key: { type: 'string', pattern: '^[a-z]+\\.pdf$' }, lines: { type: 'array', uniqueItems: true } },
    });
    const invalid = (lines: unknown[]) => JSON.stringify({ flow_id: flowId, input: { file_key: 'A.PDF', lines: [...lines, lines[0]] } });
    const small = await send(org, CREATE, invalid(filler(2)));
    const { result: large, large: parsed } = await parsedHere(() => send(org, CREATE, invalid(filler(200))));
    expect(parsed).toBe(0);
    expectEnvelope(small, 400, 'bad_request');
    expectEnvelope(large, 400, 'bad_request');
    const withoutIndexes = (details: { loc: unknown[]; type: string; msg: string }[]) => details.map(({ loc, type }) => ({ loc, type }));
    expect(withoutIndexes(large.body.error.details)).toEqual(withoutIndexes(small.body.error.details));
    expect(withoutIndexes(large.body.error.details)).toEqual([
      { loc: ['body', 'input', 'lines'], type: 'uniqueItems' },
      { loc: ['body', 'input', 'file_key'], type: 'pattern' },
    ]);

    const valid = await send(org, CREATE, JSON.stringify({ flow_id: flowId, input: { file_key: 'a.pdf', lines: filler(200) } }));
    expect(valid.status).toBe(201);
    expect((await t.dataSource.query(`SELECT count(*)::int AS n FROM flow_executions WHERE flow_id = $1`, [flowId]))[0].n).toBe(1);
  });

  it('refuses what a small body is refused for, in the same envelope, and stores nothing', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth, [{ name: 'in' }]);
    const pad = ' '.repeat(MIN_BYTES);
    const cases: [string, string, number, string, string?][] = [
      ['not JSON', `{"flow_id":"${flowId}","input":{"a":1},}${pad}`, 400, 'bad_request', 'Request body is not valid JSON'],
      ['a top-level string', `${pad}"${'a'.repeat(MIN_BYTES)}"`, 400, 'bad_request', 'Request body is not valid JSON'],
      [
        'too deep',
        `{"flow_id":"${flowId}","input":{"a":${'['.repeat(70)}${']'.repeat(70)}}}${pad}`,
        400,
        'bad_request',
        'Request body is nested too deeply (more than 64 levels)',
      ],
      ['a number out of range', `{"flow_id":"${flowId}","input":{"a":[1e400]}}${pad}`, 400, 'bad_request'],
      ['a NUL character', `{"flow_id":"${flowId}","input":{"a":["\\u0000"]}}${pad}`, 422, 'validation_error'],
      ['an array for input', `{"flow_id":"${flowId}","input":[1,2]}${pad}`, 422, 'validation_error'],
    ];
    for (const [what, body, status, code, message] of cases) {
      const res = await send(org, CREATE, body);
      expect({ what, status: res.status, code: res.body.error?.code }).toEqual({ what, status, code });
      if (message) expect({ what, message: res.body.error.message }).toEqual({ what, message });
    }
    const nul = await send(org, CREATE, cases[4][1]);
    expect(nul.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'input', 'a', 0], type: 'string_unstorable' })]);
    const array = await send(org, CREATE, cases[5][1]);
    expect(array.body.detail).toEqual([expect.objectContaining({ loc: ['body', 'input'] })]);
    expect((await t.dataSource.query(`SELECT count(*)::int AS n FROM flow_executions WHERE flow_id = $1`, [flowId]))[0].n).toBe(0);
  });

  it('gives a handler that needs the value the parsed value: a large flow definition is saved and read back', async () => {
    const org = await newOrg();
    const tasks = Array.from({ length: 60 }, (_, i) => ({
      name: `t${i}`,
      task_executor_name: i > 0 ? 'doc_to_structured' : 'receive_file',
      parameters: { note: 'n'.repeat(200), ...(i > 0 ? { after: `{{t${i - 1}.out}}` } : {}) },
    }));
    const definition = definitionOf(tasks);
    const body = JSON.stringify({ display_name: 'large', definition });
    expect(body.length).toBeGreaterThan(MIN_BYTES);
    const saved = await send(org, '/api/flows', body);
    expect(saved.status).toBe(201);
    const read = await t.http().get(`/api/flows/${saved.body.id}`).set(org.auth());
    expect(read.status).toBe(200);
    expect(read.body.definition).toEqual(definition);
  });

  it('replays an Idempotency-Key for the same large request sent with other whitespace and key order', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth, [{ name: 'in' }]);
    const key = randomUUID();
    const lines = filler(200);
    const first = await send(org, CREATE, JSON.stringify({ flow_id: flowId, input: { a: 1, lines } }), { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    const again = await send(org, CREATE, JSON.stringify({ input: { lines, a: 1 }, flow_id: flowId }, null, 2), { 'Idempotency-Key': key });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    const other = await send(org, CREATE, JSON.stringify({ flow_id: flowId, input: { a: 2, lines } }), { 'Idempotency-Key': key });
    expectEnvelope(other, 422, 'idempotency_key_reused');
  });
});
