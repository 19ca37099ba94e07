import { connect } from 'node:net';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { newOrg, signToken } from '../utils/tokens';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

// Unlucky but ordinary input: each is refused in the envelope, naming the field, and nothing is stored.
describe('bad input', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const countExecutions = async (flowId: string) =>
    Number((await t.dataSource.query('SELECT count(*) AS n FROM flow_executions WHERE flow_id = $1', [flowId]))[0].n);

  const expectEnvelope = (res: { status: number; body: Record<string, unknown>; headers: Record<string, string> }, code: string) => {
    expect(res.body).toMatchObject({ error: { code }, request_id: res.headers['x-request-id'] });
    expect(res.headers['x-request-id']).toMatch(ULID);
  };

  it.each([
    ['a NUL in a value', { file_key: 'a\u0000b' }, ['body', 'input', 'file_key']],
    ['a NUL in a key', { 'file\u0000key': 'a' }, ['body', 'input', 'file\u0000key']],
    ['a lone high surrogate', { file_key: 'a\ud800' }, ['body', 'input', 'file_key']],
    ['a lone low surrogate, deep in an array', { file_key: 'a', pages: [{ x: '\udc00b' }] }, ['body', 'input', 'pages', 0, 'x']],
  ])('refuses %s of an execution input with a 422 naming it, storing nothing', async (_name, input, loc) => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const res = await t.http().post('/api/flow-executions').set(org.auth()).send({ flow_id: flowId, input });
    expect(res.status).toBe(422);
    expectEnvelope(res, 'validation_error');
    expect(res.body.detail).toEqual([expect.objectContaining({ loc, type: 'string_unstorable' })]);
    expect(await countExecutions(flowId)).toBe(0);
  });

  it('stores a well-formed astral character (a surrogate pair) and returns it unchanged', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const created = await createExecution(t, org.auth, flowId, { file_key: 'a😀b' });
    const read = await t.http().get(`/api/flow-executions/${created.id}`).set(org.auth()).expect(200);
    expect(read.body.input).toEqual({ file_key: 'a😀b' });
  });

  it('refuses NUL in a flow name and in a task name', async () => {
    const org = await newOrg();
    const flow = await t.http().post('/api/flows').set(org.auth()).send({ display_name: 'In\u0000voices', definition: {} });
    expect(flow.status).toBe(422);
    expect(flow.body.detail).toContainEqual(expect.objectContaining({ loc: ['body', 'display_name'], type: 'string_unstorable' }));
    const flows = await t.http().get('/api/flows').set(org.auth()).expect(200);
    expect(flows.body.total).toBe(0);

    const flowId = await createFlow(t, org.auth);
    const execution = await createExecution(t, org.auth, flowId);
    const task = await t
      .http()
      .post('/api/task-executions')
      .set(org.auth('worker'))
      .send({ flow_execution_id: execution.id, task_name: 'rec\u0000eive', task_executor_name: 'receive_file' });
    expect(task.status).toBe(422);
    expect(task.body.detail).toContainEqual(expect.objectContaining({ loc: ['body', 'task_name'], type: 'string_unstorable' }));
    expect((await t.dataSource.query('SELECT count(*) AS n FROM task_executions WHERE flow_execution_id = $1', [execution.id]))[0].n).toBe('0');
  });

  it('refuses NUL in query values and path parameters, and a malformed percent-encoding', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const tags = await t.http().get(`/api/flow-executions?flow_id=${flowId}&tags=customer:%00acme`).set(org.auth());
    expect(tags.status).toBe(422);
    expect(tags.body.detail).toEqual([expect.objectContaining({ loc: ['query', 'tags'], type: 'string_unstorable' })]);

    const path = await t.http().get('/api/flow-executions/%00').set(org.auth());
    expect(path.status).toBe(422);
    expect(path.body.detail).toEqual([expect.objectContaining({ loc: ['path', 'flow_execution_id'] })]);

    const malformed = await t.http().get('/api/flow-executions/%E0%A4%A').set(org.auth());
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toEqual({ code: 'bad_request', message: 'The path holds a malformed percent-encoding', details: null });
  });

  it('refuses numbers that are not finite once parsed with a 400 naming the field, instead of storing null', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    const res = await t
      .http()
      .post('/api/flow-executions')
      .set(org.auth())
      .set('Content-Type', 'application/json')
      .send(`{"flow_id":"${flowId}","input":{"file_key":"a","amounts":[1,1e400,-1e999]}}`);
    expect(res.status).toBe(400);
    expectEnvelope(res, 'bad_request');
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ loc: ['body', 'input', 'amounts', 1], type: 'finite_number' }),
        expect.objectContaining({ loc: ['body', 'input', 'amounts', 2], type: 'finite_number' }),
      ]),
    );
    expect(res.body.error.message).toMatch(/body\.input\.amounts\.1/);
    expect(await countExecutions(flowId)).toBe(0);
    // Large but finite numbers are kept as they are.
    const big = await t
      .http()
      .post('/api/flow-executions')
      .set(org.auth())
      .set('Content-Type', 'application/json')
      .send(`{"flow_id":"${flowId}","input":{"file_key":"a","n":1e308,"tiny":5e-324}}`)
      .expect(201);
    expect(big.body.input).toEqual({ file_key: 'a', n: 1e308, tiny: 5e-324 });
  });

  it('answers a known path with a method it does not serve with 405, Allow and the envelope', async () => {
    const org = await newOrg();
    const put = await t.http().put('/api/flow-executions').set(org.auth());
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, HEAD, POST');
    expectEnvelope(put, 'method_not_allowed');

    const execution = await t.http().post('/api/flow-executions/0b7f3c1e-2a4d-4c8e-9f10-aabbccddeeff').set(org.auth());
    expect(execution.status).toBe(405);
    expect(execution.headers.allow).toBe('DELETE, GET, HEAD');

    const live = await t.http().post('/health/live');
    expect(live.status).toBe(405);
    expect(live.headers.allow).toBe('GET, HEAD');

    // An unknown path stays a 404.
    await t.http().put('/api/flow-executionz').set(org.auth()).expect(404);
  });

  it('answers a body that is not JSON with 415 on an endpoint that takes JSON, and storing nothing', async () => {
    const org = await newOrg();
    const flowId = await createFlow(t, org.auth);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await t.http().post('/api/flow-executions').set(org.auth()).set('Content-Type', type).send(`{"flow_id":"${flowId}","input":{}}`);
      expect(res.status).toBe(415);
      expectEnvelope(res, 'unsupported_media_type');
    }
    const charset = await t.http().post('/api/flow-executions').set(org.auth()).set('Content-Type', 'application/json; charset=latin1').send('{}');
    expect(charset.status).toBe(415);
    expect(await countExecutions(flowId)).toBe(0);
    // An endpoint that takes no body ignores one; a JSON body without fields is still validated field by field.
    await t.http().post('/api/flow-executions').set(org.auth()).set('Content-Type', 'application/json').send('{}').expect(422);
  });

  it('refuses a token whose subject cannot be stored as modified_by', async () => {
    const org = await newOrg();
    for (const sub of ['a\u0000b', 'x'.repeat(256)]) {
      const token = await signToken(org.id, 'org_admin', { sub });
      const res = await t.http().get('/api/flows').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
    }
  });

  it("answers requests Node's parser refuses (a NUL in a header) in the envelope", async () => {
    await new Promise<void>((resolve) => t.app.getHttpServer().listen(0, '127.0.0.1', () => resolve()));
    const { port } = t.app.getHttpServer().address() as { port: number };
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\nX-Note: a\u0000b\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    const requestId = /X-Request-ID: (\S+)/.exec(head)?.[1];
    expect(requestId).toMatch(ULID);
    expect(JSON.parse(body)).toEqual({ error: { code: 'bad_request', message: expect.any(String), details: null }, request_id: requestId });
  });
});
