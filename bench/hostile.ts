import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Fixture } from './seed';

/**
 * `--only hostile`: every operation of the served /openapi.json, sent the worst input it accepts at
 * the documented bounds (1 MiB bodies, 64 levels, the largest pages, the longest strings, flow
 * definitions of 1,000 tasks full of templates, schemas of 64 KiB full of patterns, inputs just
 * under the validation budget), one request at a time. For each: its time, and how long the
 * server's event loop was held (prom-client's monitorEventLoopDelay, 10 ms resolution: /metrics is
 * read, which resets it, then the request, then /metrics again).
 */

export interface HostileRow {
  operation: string;
  input: string;
  status: number;
  /** Median response time of the repetitions, ms. */
  ms: number;
  /** Event-loop delay during the request: the median and the worst of the repetitions, ms. */
  blockMs: number;
  worstBlockMs: number;
  /** The start of the answer, when it was not a success. */
  error?: string;
}

interface Request {
  method: string;
  path: string;
  role?: Role;
  headers?: Record<string, string>;
  body?: unknown;
}

type Role = 'org_admin' | 'worker' | 'backoffice' | 'bench';

interface Case {
  operation: string;
  input: string;
  /** Makes a fresh request (and what it needs, unmeasured) for each repetition. */
  request: () => Promise<Request>;
  repeat?: number;
}

const MiB = 1024 * 1024;
const REPEAT = 3;
/** Characters of a service account's or an API key's description (docs/api.md#bounds). */
const DESCRIPTION = 1000;
const uuid = () => randomUUID();

export async function benchHostile(ctx: { url: string; jwtSecret: string; fixture: Fixture; log: (m: string) => void }): Promise<HostileRow[]> {
  const { url, fixture, log } = ctx;
  const key = new TextEncoder().encode(ctx.jwtSecret);
  const org = uuid();
  const sign = (orgId: string, role: string) =>
    new SignJWT({ org_id: orgId, role }).setProtectedHeader({ alg: 'HS256' }).setSubject(`hostile-${role}`).setExpirationTime('2h').sign(key);
  const tokens: Record<Role, string> = {
    org_admin: await sign(org, 'org_admin'),
    worker: await sign(org, 'worker'),
    backoffice: await sign(org, 'backoffice'),
    bench: await sign(fixture.organizationId, 'org_admin'),
  };

  const send = async (req: Request): Promise<{ status: number; text: string; json: () => Promise<unknown> }> => {
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    const init = {
      method: req.method,
      headers: {
        Authorization: `Bearer ${tokens[req.role ?? 'org_admin']}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...req.headers,
      },
      body,
    };
    // A pooled connection the server closed as idle (its keep-alive timeout, while this process was busy
    // building inputs) fails the request before it was read: send it again once, on a new connection.
    const res = await fetch(`${url}${req.path}`, init).catch((error: { cause?: { code?: string } }) => {
      if (error.cause?.code !== 'UND_ERR_SOCKET') throw error;
      return fetch(`${url}${req.path}`, init);
    });
    const text = await res.text();
    return { status: res.status, text, json: async () => (text ? JSON.parse(text) : null) };
  };
  // Setup calls: most answer the created resource, of which only the id is read.
  const must = async <T = { id: string }>(req: Request, status = 201): Promise<T> => {
    const res = await send(req);
    if (res.status !== status)
      throw new Error(`hostile bench setup: ${req.method} ${req.path} answered ${res.status}: ${JSON.stringify(await res.json()).slice(0, 500)}`);
    return (await res.json()) as T;
  };

  // --- Inputs at the bounds --------------------------------------------------------------------

  const fits = (make: (n: number) => unknown, limit = MiB - 512): number => {
    const size = (n: number) => JSON.stringify(make(n)).length;
    let lo = 1;
    let hi = 2;
    while (size(hi) <= limit) [lo, hi] = [hi, hi * 2];
    hi -= 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (size(mid) <= limit) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const definition = (tasks: unknown[]) => ({ flow: { author_uuid: '' }, flow_configs: [{ config: { tasks }, meta: { name: 'hostile' } }] });
  const task = (name: string, parameters: Record<string, unknown>, executor = 'x') => ({ name, task_executor_name: executor, parameters });

  // 1,000 tasks, each waiting on one that comes after all of them (the ready queue's worst case), each
  // with `{{` and as many spaces as fit (the template scan's worst case).
  const crossed = (pad: number) =>
    definition(
      Array.from({ length: 1000 }, (_, i) =>
        i < 500 ? task(`b${i}`, { src: `{{a${499 - i}.o}}`, text: '{{' + ' '.repeat(pad) }) : task(`a${i - 500}`, { text: '{{' + ' '.repeat(pad) }),
      ),
    );
  const tasksDefinition = crossed(fits((n) => crossed(n)));

  // Schemas at the bounds: 100 patterns of 99 instructions (DFA-hostile) in all, 80 in the input schema and 20 in
  // the webhook fields, the input schema filled to 64 KiB with an enum.
  // Distinct (no compiled pattern is reused), DFA-hostile: 'a'.repeat(29) matches each.
  const HEAVY = (i: number) => `^(a|b)*a(a|b){28}$|^id${i}$`;
  const patternProperties = (from: number, n: number) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${from + i}`, { type: 'string', pattern: HEAVY(from + i) }]));
  const filled = (n: number) => ({
    type: 'object',
    properties: { ...patternProperties(0, 80), e: { enum: Array.from({ length: n }, (_, i) => `value-${i}`) } },
  });
  const patternSchema = filled(fits(filled, 65_536 - 64));
  const fields = patternProperties(80, 20);
  const schemaDefinition = definition([task('in', { input_schema: patternSchema }), task('approve', { after: '{{in.o}}', fields }, 'webhook_receiver')]);

  // A value just under the pattern budget (500,000 characters x (instructions + 16), the other fields included): random a/b for the DFA-hostile pattern.
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const underBudget = Array.from({ length: 3_700 }, () => (random() < 0.5 ? 'a' : 'b')).join('');

  // 1 MiB of input at the depth limit and of many small values.
  const deep64 = (n: number) => ({ items: Array.from({ length: n }, () => JSON.parse('['.repeat(61) + '1' + ']'.repeat(61))) });
  const deepInput = deep64(fits(deep64));
  const wide = (n: number) => ({ items: Array.from({ length: n }, (_, i) => ({ id: i, s: 'x' })) });
  const wideInput = wide(fits((n) => ({ flow_id: uuid(), input: wide(n) })));
  const uniqueSchema = {
    type: 'object',
    properties: { items: { type: 'array', uniqueItems: true, items: { type: 'object', properties: { id: { type: 'integer' }, s: { type: 'string' } } } } },
  };

  // --- Setup (unmeasured) ----------------------------------------------------------------------

  log('hostile: setting up an organization of its own');
  const newFlow = async (def: unknown, name = 'hostile') =>
    (await must({ method: 'POST', path: '/api/flows', body: { display_name: name, definition: def } })).id as string;
  const plainFlow = await newFlow(
    definition([task('in', {}), task('approve', { after: '{{in.o}}', fields: { ok: { type: 'boolean' } } }, 'webhook_receiver')]),
  );
  const tasksFlow = await newFlow(tasksDefinition);
  const schemaFlow = await newFlow(schemaDefinition);
  const uniqueFlow = await newFlow(definition([task('in', { input_schema: uniqueSchema })]));
  const execution = async (flowId = plainFlow) =>
    (await must({ method: 'POST', path: '/api/flow-executions', body: { flow_id: flowId, input: {} } })).id as string;
  const runningId = await execution();
  // One bulk action over the plain flow's runs, made on first use.
  let bulkActionId: Promise<string> | null = null;
  const bulkAction = () =>
    (bulkActionId ??= must(
      { method: 'POST', path: '/api/bulk-actions', body: { action: 'delete', dry_run: false, selection: { flow_id: plainFlow, status: ['completed'] } } },
      202,
    ).then((a: { id: string }) => a.id));
  const waitingOn = async (flowId: string) => {
    const id = await execution(flowId);
    await must({
      method: 'POST',
      path: '/api/task-executions',
      role: 'worker',
      body: { flow_execution_id: id, task_name: 'approve', task_execution_idx: 0, processing_status: 'awaiting_input' },
    });
    await must(
      {
        method: 'POST',
        path: `/api/flow-executions/${id}/task-status`,
        role: 'worker',
        body: { statuses: [{ task_name: 'approve', status: 'awaiting_input' }] },
      },
      200,
    );
    return id;
  };
  const taskExecution = await must({
    method: 'POST',
    path: '/api/task-executions',
    role: 'worker',
    body: { flow_execution_id: runningId, task_name: 'in', task_execution_idx: 0, processing_status: 'running' },
  });
  const account = async () => (await must({ method: 'POST', path: '/api/service-accounts', body: { name: 'hostile', role: 'integration' } })).id as string;
  const accountId = await account();
  const apiKey = async (sa = accountId) => (await must({ method: 'POST', path: `/api/service-accounts/${sa}/api-keys`, body: { name: 'k' } })).id as string;
  // The lists' worst pages: 1,000 rows at the longest name and description, made once, when first listed.
  const fill = (path: string) => async () => {
    for (let made = 0; made < 1000; made += 25) {
      await Promise.all(Array.from({ length: 25 }, () => must({ method: 'POST', path, body: { name: long(255), description: long(DESCRIPTION) } })));
    }
  };
  const once = (make: () => Promise<void>) => {
    let made: Promise<void> | null = null;
    return () => (made ??= make());
  };
  const listed = { accounts: once(fill('/api/service-accounts')), keys: once(fill(`/api/service-accounts/${accountId}/api-keys`)) };
  // A public address literal (no DNS here), scoped to a flow that never runs: no delivery is ever attempted.
  const quietFlow = await newFlow(definition([task('in', {})]), 'never runs');
  const HOOK = 'https://93.184.215.14/hook';
  const webhook = async () => (await must({ method: 'POST', path: '/api/webhooks', body: { url: HOOK, flow_id: quietFlow } })).id as string;
  const webhookId = await webhook();
  const ids = await must<{ id: string }[]>({ method: 'GET', path: `/api/flow-executions?flow_id=${fixture.hotFlowId}&page_size=1`, role: 'bench' }, 200);
  const hotExecution = ids[0].id;

  const long = (n: number) => 'x'.repeat(n);
  const includes =
    'include_ordered_task_names=true&include_validation_errors=true&include_dynamic_data=true&include_output_schemas=true&include_input_schema=true&include_default_reference_modes=true';
  // key (100 characters) : value (200 characters), 100 distinct.
  const tags100 = (prefix: string) => Array.from({ length: 100 }, (_, i) => `${prefix}${String(i).padStart(3, '0')}${long(96)}:${long(200)}`);
  const tagItems = (id: string) =>
    Array.from({ length: 100 }, (_, i) => ({
      operation: 'add',
      flow_execution_id: id,
      task_name: 'in',
      tag_type: long(96) + String(i).padStart(4, '0'),
      tag: long(200),
      tag_metadata: { note: long(1000) },
    }));
  const bigOutput = (n: number) => ({ rows: Array.from({ length: n }, (_, i) => ({ i, v: 'value' })) });
  const output = bigOutput(
    fits(
      (n) => ({ flow_execution_id: runningId, task_name: 'in', task_execution_idx: 0, processing_status: 'completed', output: bigOutput(n) }),
      MiB - 64 * 1024,
    ),
  );

  const cases: Case[] = [
    { operation: 'GET /health/live', input: '-', request: async () => ({ method: 'GET', path: '/health/live' }) },
    { operation: 'GET /health/ready', input: '-', request: async () => ({ method: 'GET', path: '/health/ready' }) },
    { operation: 'GET /api/organizations/settings', input: '-', request: async () => ({ method: 'GET', path: '/api/organizations/settings' }) },
    {
      operation: 'PUT /api/organizations/settings',
      input: 'largest limit',
      request: async () => ({ method: 'PUT', path: '/api/organizations/settings', body: { max_concurrent_executions: 100_000 } }),
    },
    {
      operation: 'POST /api/service-accounts',
      input: 'longest name and description',
      request: async () => ({ method: 'POST', path: '/api/service-accounts', body: { name: long(255), description: long(DESCRIPTION), role: 'integration' } }),
    },
    {
      operation: 'GET /api/service-accounts',
      input: 'limit=1000 of 1,000 accounts, longest names and descriptions',
      request: async () => {
        await listed.accounts();
        return { method: 'GET', path: '/api/service-accounts?limit=1000' };
      },
    },
    {
      operation: 'GET /api/service-accounts/{service_account_id}',
      input: '-',
      request: async () => ({ method: 'GET', path: `/api/service-accounts/${accountId}` }),
    },
    {
      operation: 'PATCH /api/service-accounts/{service_account_id}',
      input: 'longest name and description',
      request: async () => ({ method: 'PATCH', path: `/api/service-accounts/${accountId}`, body: { name: long(255), description: long(DESCRIPTION) } }),
    },
    {
      operation: 'DELETE /api/service-accounts/{service_account_id}',
      input: '-',
      request: async () => ({ method: 'DELETE', path: `/api/service-accounts/${await account()}` }),
    },
    {
      operation: 'GET /api/service-accounts/{service_account_id}/api-keys',
      input: 'limit=1000 of 1,000 keys, longest names and descriptions',
      request: async () => {
        await listed.keys();
        return { method: 'GET', path: `/api/service-accounts/${accountId}/api-keys?limit=1000` };
      },
    },
    {
      operation: 'POST /api/service-accounts/{service_account_id}/api-keys',
      input: 'longest name and description',
      request: async () => ({ method: 'POST', path: `/api/service-accounts/${accountId}/api-keys`, body: { name: long(255), description: long(DESCRIPTION) } }),
    },
    {
      operation: 'PATCH /api/service-accounts/{service_account_id}/api-keys/{api_key_id}',
      input: 'longest name and description',
      request: async () => ({
        method: 'PATCH',
        path: `/api/service-accounts/${accountId}/api-keys/${await apiKey()}`,
        body: { name: long(255), description: long(DESCRIPTION) },
      }),
    },
    {
      operation: 'DELETE /api/service-accounts/{service_account_id}/api-keys/{api_key_id}',
      input: '-',
      request: async () => ({ method: 'DELETE', path: `/api/service-accounts/${accountId}/api-keys/${await apiKey()}` }),
    },
    {
      operation: 'POST /api/flows',
      input: '1,000 tasks, crossed references, `{{`+spaces in every task (1 MiB)',
      request: async () => ({ method: 'POST', path: `/api/flows?${includes}`, body: { display_name: 'h', definition: tasksDefinition } }),
    },
    {
      operation: 'POST /api/flows',
      input: 'a 64 KiB input schema; 100 distinct DFA-hostile patterns, 10,000 instructions in all',
      request: async () => ({ method: 'POST', path: `/api/flows?${includes}`, body: { display_name: 'h', definition: schemaDefinition } }),
    },
    {
      operation: 'GET /api/flows',
      input: 'page_size=100, every include, bench organization',
      request: async () => ({ method: 'GET', path: `/api/flows?page_size=100&include_latest_version_executions_count=true&${includes}`, role: 'bench' }),
    },
    {
      operation: 'GET /api/flows',
      input: 'page_size=100, every include, the hostile flows',
      request: async () => ({ method: 'GET', path: `/api/flows?page_size=100&${includes}` }),
    },
    {
      operation: 'GET /api/flows/{flow_id}',
      input: 'every include, 1,000-task flow',
      request: async () => ({ method: 'GET', path: `/api/flows/${tasksFlow}?${includes}` }),
    },
    {
      operation: 'GET /api/flows/{flow_id}',
      input: 'every include, 100 patterns',
      request: async () => ({ method: 'GET', path: `/api/flows/${schemaFlow}?${includes}` }),
    },
    {
      operation: 'PATCH /api/flows/{flow_id}',
      input: 'longest strings, 100 tags',
      request: async () => ({
        method: 'PATCH',
        path: `/api/flows/${plainFlow}`,
        body: { display_name: long(255), description: long(5000), tags: Array.from({ length: 100 }, (_, i) => `${i}${long(60)}`) },
      }),
    },
    {
      operation: 'DELETE /api/flows/{flow_id}',
      input: '1,000-task flow',
      request: async () => ({ method: 'DELETE', path: `/api/flows/${await newFlow(tasksDefinition)}` }),
    },
    {
      operation: 'PUT /api/flows/{flow_id}/definition',
      input: '1,000 tasks, crossed, `{{`+spaces (1 MiB)',
      request: async () => ({ method: 'PUT', path: `/api/flows/${tasksFlow}/definition?${includes}`, body: { definition: tasksDefinition } }),
    },
    {
      operation: 'PUT /api/flows/{flow_id}/definition',
      input: '64 KiB schema, 100 patterns',
      request: async () => ({ method: 'PUT', path: `/api/flows/${schemaFlow}/definition?${includes}`, body: { definition: schemaDefinition } }),
    },
    {
      operation: 'GET /api/flows/{flow_id}/versions',
      input: 'every include, 1,000-task flow, a full page (limit=100, 4 MiB budget)',
      request: async () => ({ method: 'GET', path: `/api/flows/${tasksFlow}/versions?limit=100&${includes}` }),
    },
    {
      operation: 'GET /api/flows/{flow_id}/versions/{version}',
      input: 'every include, 1,000-task flow',
      request: async () => ({ method: 'GET', path: `/api/flows/${tasksFlow}/versions/1?${includes}` }),
    },
    {
      operation: 'PATCH /api/flows/{flow_id}/versions/{version}',
      input: 'longest name',
      request: async () => ({ method: 'PATCH', path: `/api/flows/${tasksFlow}/versions/1`, body: { name: long(255), is_favourite: true } }),
    },
    {
      operation: 'GET /api/flow-executions/events',
      input: 'limit=1000, bench organization',
      request: async () => ({ method: 'GET', path: '/api/flow-executions/events?limit=1000&after=0', role: 'bench' }),
    },
    {
      operation: 'POST /api/flow-executions',
      input: '1 MiB input, 64 levels deep',
      request: async () => ({ method: 'POST', path: '/api/flow-executions', body: { flow_id: plainFlow, input: deepInput } }),
    },
    {
      operation: 'POST /api/flow-executions',
      input: `1 MiB input, ${wideInput.items.length.toLocaleString('en')} objects, uniqueItems`,
      request: async () => ({ method: 'POST', path: '/api/flow-executions', body: { flow_id: uniqueFlow, input: wideInput } }),
    },
    {
      operation: 'POST /api/flow-executions',
      input: '3,700 characters against a DFA-hostile pattern (just under the pattern budget)',
      request: async () => ({ method: 'POST', path: '/api/flow-executions', body: { flow_id: schemaFlow, input: { p0: underBudget } } }),
    },
    {
      operation: 'POST /api/flow-executions',
      input: 'on the 1,000-task flow',
      request: async () => ({ method: 'POST', path: '/api/flow-executions', body: { flow_id: tasksFlow, input: {}, input_task_name: 'a499' } }),
    },
    {
      operation: 'GET /api/flow-executions',
      input: 'page_size=1000, run numbers, credits (hot flow)',
      request: async () => ({
        method: 'GET',
        path: `/api/flow-executions?flow_id=${fixture.hotFlowId}&page_size=1000&include_run_number=true&include_credits=true`,
        role: 'bench',
      }),
    },
    {
      operation: 'GET /api/flow-executions',
      input: 'page_size=1000, common tag (hot flow)',
      request: async () => ({
        method: 'GET',
        path: `/api/flow-executions?flow_id=${fixture.hotFlowId}&page_size=1000&tags=${fixture.tags.common}`,
        role: 'bench',
      }),
    },
    {
      operation: 'POST /api/bulk-actions',
      input: 'dry run, failed runs without a rare tag (hot flow)',
      request: async () => ({
        method: 'POST',
        path: '/api/bulk-actions',
        role: 'bench',
        body: { action: 'cancel', dry_run: true, selection: { flow_id: fixture.hotFlowId, status: ['failed'], tags_exclude: [fixture.tags.rare] } },
      }),
    },
    {
      operation: 'GET /api/bulk-actions',
      input: 'limit=1000',
      request: async () => (await bulkAction(), { method: 'GET', path: '/api/bulk-actions?limit=1000' }),
    },
    {
      operation: 'GET /api/bulk-actions/{bulk_action_id}',
      input: '-',
      request: async () => ({ method: 'GET', path: `/api/bulk-actions/${await bulkAction()}` }),
    },
    {
      operation: 'GET /api/bulk-actions/{bulk_action_id}/items',
      input: 'limit=1000, outcome=pending',
      request: async () => ({ method: 'GET', path: `/api/bulk-actions/${await bulkAction()}/items?limit=1000&outcome=pending` }),
    },
    {
      operation: 'POST /api/bulk-actions/{bulk_action_id}/cancel',
      input: '-',
      request: async () => {
        await execution();
        const { id } = await must({ method: 'POST', path: '/api/bulk-actions', body: { action: 'cancel', selection: { flow_id: plainFlow } } }, 202);
        return { method: 'POST', path: `/api/bulk-actions/${id}/cancel` };
      },
    },
    {
      operation: 'GET /api/flow-executions/stats',
      input: 'group_by=day, common tag excluded, 10 tag filters (hot flow)',
      request: async () => ({
        method: 'GET',
        path:
          `/api/flow-executions/stats?flow_id=${fixture.hotFlowId}&group_by=day&tags_exclude=${fixture.tags.rare}&` +
          Array.from({ length: 10 }, (_, i) => (i === 0 ? `tags=${fixture.tags.common}` : `tags=none:t${i}`)).join('&'),
        role: 'bench',
      }),
    },
    {
      operation: 'GET /api/flow-executions/{flow_execution_id}',
      input: 'run number, credits, 1 MiB input',
      request: async () => ({
        method: 'GET',
        path: `/api/flow-executions/${(await must({ method: 'POST', path: '/api/flow-executions', body: { flow_id: plainFlow, input: deepInput } })).id}?include_run_number=true&include_credits=true`,
      }),
    },
    {
      operation: 'DELETE /api/flow-executions/{flow_execution_id}',
      input: '-',
      request: async () => ({ method: 'DELETE', path: `/api/flow-executions/${await execution()}` }),
    },
    {
      operation: 'POST /api/flow-executions/{flow_execution_id}/cancel',
      input: '-',
      request: async () => ({ method: 'POST', path: `/api/flow-executions/${await execution()}/cancel` }),
    },
    {
      operation: 'POST /api/flow-executions/{flow_execution_id}/execute',
      input: '1 MiB input',
      request: async () => ({
        method: 'POST',
        path: `/api/flow-executions/${(await must({ method: 'POST', path: '/api/flow-executions', body: { flow_id: plainFlow, input: deepInput } })).id}/execute`,
      }),
    },
    {
      operation: 'POST /api/flow-executions/{flow_execution_id}/redrive',
      input: 'from_task on the 1,000-task flow (1 MiB definition)',
      request: async () => {
        const body = { flow_id: tasksFlow, input: {}, input_task_name: 'a0' };
        const { id } = await must({ method: 'POST', path: '/api/flow-executions', body });
        await must({ method: 'PATCH', path: `/api/flow-executions/${id}/status?status=failed`, role: 'worker' }, 200);
        return { method: 'POST', path: `/api/flow-executions/${id}/redrive`, body: { from_task: 'a0' } };
      },
    },
    {
      operation: 'POST /api/flow-executions/{flow_execution_id}/task-status',
      input: '100 statuses',
      request: async () => ({
        method: 'POST',
        path: `/api/flow-executions/${await execution()}/task-status`,
        role: 'worker',
        body: { statuses: Array.from({ length: 100 }, (_, i) => ({ task_name: i % 2 ? 'in' : 'approve', status: 'running' })) },
      }),
    },
    {
      operation: 'PATCH /api/flow-executions/{flow_execution_id}/status',
      input: '-',
      request: async () => ({ method: 'PATCH', path: `/api/flow-executions/${await execution()}/status?status=failed`, role: 'worker' }),
    },
    {
      operation: 'GET /api/flows/{flow_id}/executions/{run_number}',
      input: 'hot flow, run number 1',
      request: async () => ({
        method: 'GET',
        path: `/api/flows/${fixture.hotFlowId}/executions/1?include_run_number=true&include_credits=true`,
        role: 'bench',
      }),
    },
    {
      operation: 'POST /api/task-executions',
      input: '1 MiB output, 100 tags',
      request: async () => ({
        method: 'POST',
        path: '/api/task-executions',
        role: 'worker',
        body: { flow_execution_id: await execution(), task_name: 'in', task_execution_idx: 0, processing_status: 'completed', output, tags: tags100('a') },
      }),
    },
    {
      operation: 'PUT /api/task-executions',
      input: '1 MiB output, 100 tags',
      request: async () => ({
        method: 'PUT',
        path: '/api/task-executions',
        role: 'worker',
        body: { flow_execution_id: runningId, task_name: 'in', task_execution_idx: 0, processing_status: 'running', output, tags: tags100('b') },
      }),
    },
    {
      operation: 'GET /api/task-executions',
      input: 'limit=1000, credits, bench organization',
      request: async () => ({ method: 'GET', path: '/api/task-executions?limit=1000&include_credits=true', role: 'bench' }),
    },
    {
      operation: 'GET /api/task-executions/{task_execution_id}',
      input: 'credits, 1 MiB output',
      request: async () => ({ method: 'GET', path: `/api/task-executions/${taskExecution.id}?include_credits=true` }),
    },
    {
      operation: 'POST /api/task-executions/{task_execution_id}/heartbeat',
      input: '64 KiB details (the bound)',
      request: async () => ({
        method: 'POST',
        path: `/api/task-executions/${taskExecution.id}/heartbeat`,
        role: 'worker',
        body: { details: bigOutput(fits((n) => bigOutput(n), 64 * 1024)) },
      }),
    },
    {
      operation: 'POST /api/flow-executions/{flow_execution_id}/webhook-data',
      input: '20 fields with DFA-hostile patterns, 3,700 characters in one (just under the budget)',
      request: async () => ({
        method: 'POST',
        path: `/api/flow-executions/${await waitingOn(schemaFlow)}/webhook-data`,
        role: 'worker',
        body: { task_name: 'approve', data: Object.fromEntries(Object.keys(fields).map((k, i) => [k, i === 0 ? underBudget : 'a'.repeat(29)])) },
      }),
    },
    {
      operation: 'PATCH /api/task-tags',
      input: '100 tags of the longest type and value, metadata',
      request: async () => {
        const id = await execution();
        await must({
          method: 'POST',
          path: '/api/task-executions',
          role: 'worker',
          body: { flow_execution_id: id, task_name: 'in', task_execution_idx: 0, processing_status: 'running' },
        });
        return { method: 'PATCH', path: '/api/task-tags', role: 'worker', body: { tags: tagItems(id) } };
      },
    },
    {
      operation: 'GET /api/task-tags',
      input: 'a task with 100 tags',
      request: async () => ({ method: 'GET', path: `/api/task-tags?flow_execution_id=${runningId}` }),
    },
    {
      operation: 'GET /api/flows/{flow_id}/tags',
      input: 'hot flow, bench organization',
      request: async () => ({ method: 'GET', path: `/api/flows/${fixture.hotFlowId}/tags`, role: 'bench' }),
    },
    {
      operation: 'POST /api/webhooks',
      input: 'longest URL and description',
      request: async () => ({ method: 'POST', path: '/api/webhooks', body: { url: `${HOOK}/${long(2000)}`, description: long(1000), flow_id: quietFlow } }),
    },
    { operation: 'GET /api/webhooks', input: '-', request: async () => ({ method: 'GET', path: '/api/webhooks' }) },
    { operation: 'GET /api/webhooks/{webhook_id}', input: '-', request: async () => ({ method: 'GET', path: `/api/webhooks/${webhookId}` }) },
    {
      operation: 'PATCH /api/webhooks/{webhook_id}',
      input: 'longest URL and description',
      request: async () => ({ method: 'PATCH', path: `/api/webhooks/${webhookId}`, body: { url: `${HOOK}/${long(2000)}`, description: long(1000) } }),
    },
    { operation: 'DELETE /api/webhooks/{webhook_id}', input: '-', request: async () => ({ method: 'DELETE', path: `/api/webhooks/${await webhook()}` }) },
    {
      operation: 'POST /api/webhooks/{webhook_id}/rotate-secret',
      input: '-',
      request: async () => ({ method: 'POST', path: `/api/webhooks/${webhookId}/rotate-secret` }),
    },
    {
      operation: 'GET /api/webhooks/{webhook_id}/deliveries',
      input: 'limit=1000',
      request: async () => ({ method: 'GET', path: `/api/webhooks/${webhookId}/deliveries?limit=1000` }),
    },
    {
      operation: 'POST /api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver',
      input: 'unknown delivery',
      request: async () => ({ method: 'POST', path: `/api/webhooks/${webhookId}/deliveries/1/redeliver` }),
    },
  ];
  void hotExecution;

  // Every operation served must have a case: a new route gets its worst input here.
  const openapi = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const served = Object.entries(openapi.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
  const missing = served.filter((op) => !cases.some((c) => c.operation === op));
  if (missing.length > 0) throw new Error(`hostile bench: no case for ${missing.join(', ')}`);

  // BENCH_HOSTILE_MATCH=<text>: only the cases whose operation or input contains it (a quick look at one).
  const match = process.env.BENCH_HOSTILE_MATCH;
  const rows: HostileRow[] = [];
  for (const c of cases.filter((c) => !match || `${c.operation} ${c.input}`.includes(match))) {
    const times: number[] = [];
    const blocks: number[] = [];
    let status = 0;
    let error: string | undefined;
    for (let i = 0; i < (c.repeat ?? REPEAT); i++) {
      const req = await c.request();
      await eventLoopMaxMs(url); // resets the histogram
      const started = performance.now();
      const res = await send(req);
      times.push(performance.now() - started);
      blocks.push(await eventLoopMaxMs(url));
      status = res.status;
      error = res.status >= 300 ? res.text.slice(0, 160) : undefined;
    }
    const row: HostileRow = {
      operation: c.operation,
      input: c.input,
      status,
      ms: median(times),
      blockMs: median(blocks),
      worstBlockMs: Math.max(...blocks),
      error,
    };
    log(
      `hostile ${row.operation} (${row.input}): ${row.status} in ${row.ms.toFixed(0)} ms, event loop held ${row.blockMs.toFixed(0)} ms (worst ${row.worstBlockMs.toFixed(0)})${error ? ` ${error}` : ''}`,
    );
    rows.push(row);
  }
  return rows;
}

async function eventLoopMaxMs(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
  return match ? Number(match[1]) * 1000 : NaN;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export function hostileMarkdown(rows: HostileRow[], loadAverage: string): string {
  const over = rows.filter((r) => r.blockMs > 50);
  return [
    `Hostile inputs (\`npm run bench -- --only hostile\`): each operation alone, its worst valid input at the documented bounds; ` +
      `medians of 3 (event-loop delay: median and worst of 3, 10 ms resolution). Load average at the end of the run: ${loadAverage}.` +
      (over.length ? ` Median delay over the 50 ms target: ${over.length} of ${rows.length}.` : ''),
    '',
    '| operation | worst input | status | ms | event loop held, ms (worst) |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.operation} | ${r.input} | ${r.status} | ${r.ms.toFixed(0)} | ${r.blockMs.toFixed(0)} (${r.worstBlockMs.toFixed(0)})${r.blockMs > 50 ? ' ⚠' : ''} |`,
    ),
    '',
  ].join('\n');
}
