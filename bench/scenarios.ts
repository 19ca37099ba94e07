import type { Client } from 'pg';
import type { LoadRequest } from './load';
import type { Fixture } from './seed';

export interface Scenario {
  /** Short name, for --only and the JSON. */
  key: string;
  /** Label in the table. */
  name: string;
  method: 'GET' | 'POST';
  /** Rotated through, one per request. */
  requests: LoadRequest[];
  body?: string;
  /** The status every response must have; anything else counts as an error. */
  expect: number;
  /** Also measured on the raw server (the ceiling). */
  ceiling: boolean;
  /** Sent instead of the bearer token. */
  credentials?: Record<string, string>;
}

const BASE = '/api/flow-executions';
const POOL = 1000;
const ETAG_POOL = 100;

/**
 * The scenarios of the issue, on ids picked from the seeded data. Random picks are seeded
 * (setseed), so the same data gives the same ids run after run.
 */
export async function buildScenarios(db: Client, fixture: Fixture, appUrl: string, auth: Record<string, string>): Promise<Scenario[]> {
  // Of the bench's organization only: `--only noisy` adds a neighbour's executions to the same database.
  const randomLive = async (flowId: string | null, limit: number): Promise<string[]> => {
    await db.query(`SELECT setseed(0.42)`);
    const { rows } = await db.query(
      `SELECT id FROM flow_executions
        WHERE organization_id = $4 AND status <> 'deleted' AND ($1::uuid IS NULL OR flow_id = $1) AND flow_id <> $2
        ORDER BY random() LIMIT $3`,
      [flowId, fixture.postFlowId, limit, fixture.organizationId],
    );
    return rows.map((r) => r.id as string);
  };
  const anyIds = await randomLive(null, POOL);
  const hotIds = await randomLive(fixture.hotFlowId, POOL);
  const smallIds = await randomLive(fixture.smallFlowId, POOL);

  // Page 1000 of 10 at scale 1 (offset 9,990, 5% deep into the hot flow); proportionally less when scaled down.
  const pageSize = 10;
  const page = Math.max(2, Math.min(1000, Math.round(1000 * fixture.scale)));
  const { rows: before } = await db.query(
    `SELECT id FROM flow_executions WHERE flow_id = $1 AND status <> 'deleted'
      ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1`,
    [fixture.hotFlowId, (page - 1) * pageSize - 1],
  );
  if (before.length === 0) throw new Error(`the hot flow has fewer than ${(page - 1) * pageSize} live executions`);

  const apiKey = { 'X-API-Key': await issueApiKey(appUrl, auth) };
  const etagIds = anyIds.slice(0, ETAG_POOL);
  const etags = await Promise.all(etagIds.map((id) => fetchEtag(`${appUrl}${BASE}/${id}`, auth)));

  const get = (ids: string[], query = '') => ids.map((id) => ({ path: `${BASE}/${id}${query}` }));
  const list = (query: string) => [{ path: `${BASE}?flow_id=${fixture.hotFlowId}&${query}` }];
  return [
    { key: 'get', name: 'GET by id', method: 'GET', requests: get(anyIds), expect: 200, ceiling: true },
    // The raw server checks no credential: the figure to compare is the bearer GET's, above.
    { key: 'get-key', name: 'GET by id, X-API-Key', method: 'GET', requests: get(anyIds), expect: 200, ceiling: false, credentials: apiKey },
    {
      key: 'get-run-hot',
      name: 'GET by id, include_run_number, hot flow',
      method: 'GET',
      requests: get(hotIds, '?include_run_number=true'),
      expect: 200,
      ceiling: true,
    },
    {
      key: 'get-run-small',
      name: 'GET by id, include_run_number, small flow',
      method: 'GET',
      requests: get(smallIds, '?include_run_number=true'),
      expect: 200,
      ceiling: true,
    },
    {
      key: 'get-304',
      name: 'GET by id, If-None-Match → 304',
      method: 'GET',
      requests: etagIds.map((id, i) => ({ path: `${BASE}/${id}`, headers: { 'If-None-Match': etags[i] } })),
      expect: 304,
      ceiling: true,
    },
    { key: 'list-100', name: 'list hot flow, newest 100', method: 'GET', requests: list('page_size=100'), expect: 200, ceiling: true },
    {
      key: 'list-100-run',
      name: 'list hot flow, newest 100, include_run_number',
      method: 'GET',
      requests: list('page_size=100&include_run_number=true'),
      expect: 200,
      ceiling: true,
    },
    {
      key: 'list-first',
      name: `list hot flow, page 1 of ${pageSize}`,
      method: 'GET',
      requests: list(`page_size=${pageSize}`),
      expect: 200,
      ceiling: true,
    },
    {
      key: 'list-page',
      name: `list hot flow, page ${page} of ${pageSize} (offset)`,
      method: 'GET',
      requests: list(`page_size=${pageSize}&page=${page}`),
      expect: 200,
      ceiling: true,
    },
    {
      key: 'list-cursor',
      name: `list hot flow, page ${page} of ${pageSize} (cursor)`,
      method: 'GET',
      requests: list(`page_size=${pageSize}&start_from_execution_id=${before[0].id}`),
      expect: 200,
      ceiling: true,
    },
    // The tag filters, right after the same list without them: a rare tag (starts from the tag) and a common one (walks the flow).
    {
      key: 'list-tag-rare',
      name: `list hot flow, newest 100, rare tag (${fixture.tags.rareCount} of ${fixture.hotExecutions})`,
      method: 'GET',
      requests: list(`page_size=100&tags=${fixture.tags.rare}`),
      expect: 200,
      ceiling: false,
    },
    {
      key: 'list-tag-common',
      name: `list hot flow, newest 100, common tag (${fixture.tags.commonCount} of ${fixture.hotExecutions})`,
      method: 'GET',
      requests: list(`page_size=100&tags=${fixture.tags.common}`),
      expect: 200,
      ceiling: false,
    },
    {
      key: 'tasks-100',
      name: `task executions of the organization (${fixture.taskExecutions}), newest 100`,
      method: 'GET',
      requests: [{ path: '/api/task-executions?limit=100' }],
      expect: 200,
      ceiling: false,
    },
    {
      key: 'tasks-1000',
      name: 'task executions of the organization, no limit given (1000)',
      method: 'GET',
      requests: [{ path: '/api/task-executions' }],
      expect: 200,
      ceiling: false,
    },
    {
      key: 'flows-100',
      name: `flows of the organization (${fixture.smallFlows + 1}), 100 a page with their definitions`,
      method: 'GET',
      requests: [{ path: '/api/flows?page_size=100' }],
      expect: 200,
      ceiling: false,
    },
    {
      key: 'post',
      name: 'POST create, small flow',
      method: 'POST',
      requests: [{ path: BASE }],
      body: JSON.stringify({
        flow_id: fixture.postFlowId,
        input: {
          file_key: 'uploads/2025/06/01/5f4dcc3b5aa765d61d8327deb882cf99.pdf',
          customer_id: 'cus_1a2b3c4d5e6f7a',
          source: 'api',
          priority: 'normal',
          metadata: { pages: 3, sender: 'ap-42@example.com', language: 'en' },
        },
      }),
      expect: 201,
      ceiling: false,
    },
  ];
}

/** A service account's key, issued through the API as an integration would get one. */
async function issueApiKey(appUrl: string, auth: Record<string, string>): Promise<string> {
  const post = async (path: string, body: object) => {
    const res = await fetch(`${appUrl}${path}`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
    return res.json() as Promise<{ id: string; token: string }>;
  };
  const account = await post('/api/service-accounts', { name: 'bench integration', role: 'integration' });
  return (await post(`/api/service-accounts/${account.id}/api-keys`, { name: 'bench' })).token;
}

async function fetchEtag(url: string, auth: Record<string, string>): Promise<string> {
  const res = await fetch(url, { headers: auth });
  const etag = res.headers.get('etag');
  if (res.status !== 200 || !etag) throw new Error(`GET ${url} answered ${res.status} ${etag ? '' : 'without an ETag'}: ${await res.text()}`);
  return etag;
}

export interface ParityCheck {
  scenario: string;
  ok: boolean;
  detail: string;
}

/**
 * Before measuring: every scenario's first request answers the expected status on the app, and
 * the raw server answers the same status, headers that matter and byte-identical body (else the
 * ceiling would not be doing the same work). The offset and cursor pages must be the same page.
 */
export async function checkScenarios(scenarios: Scenario[], appUrl: string, rawUrl: string, auth: Record<string, string>): Promise<ParityCheck[]> {
  const checks: ParityCheck[] = [];
  const fetchFirst = async (base: string, s: Scenario) => {
    const r = s.requests[0];
    const res = await fetch(`${base}${r.path}`, {
      method: s.method,
      headers: { ...(s.credentials ?? auth), ...r.headers, ...(s.body ? { 'Content-Type': 'application/json' } : {}) },
      body: s.body,
    });
    return { status: res.status, etag: res.headers.get('etag'), link: res.headers.get('link'), body: await res.text() };
  };
  const pages: Record<string, string> = {};
  for (const s of scenarios) {
    const app = await fetchFirst(appUrl, s);
    if (app.status !== s.expect) {
      throw new Error(`${s.name}: the app answered ${app.status} instead of ${s.expect} to ${s.method} ${s.requests[0].path}: ${app.body.slice(0, 500)}`);
    }
    pages[s.key] = app.body;
    if (!s.ceiling) continue;
    const raw = await fetchFirst(rawUrl, s);
    const differences = [
      raw.status !== app.status && `status ${raw.status} vs ${app.status}`,
      raw.body !== app.body && `body differs:\n    app ${app.body.slice(0, 300)}\n    raw ${raw.body.slice(0, 300)}`,
      raw.etag !== app.etag && `ETag ${raw.etag} vs ${app.etag}`,
      raw.link !== app.link && `Link ${raw.link} vs ${app.link}`,
    ].filter((d): d is string => typeof d === 'string');
    checks.push({ scenario: s.key, ok: differences.length === 0, detail: differences.join('; ') || 'same status, headers and body' });
  }
  if (pages['list-page'] !== undefined && pages['list-cursor'] !== undefined) {
    const same = pages['list-page'] === pages['list-cursor'];
    checks.push({ scenario: 'list-page = list-cursor', ok: same, detail: same ? 'offset and cursor give the same page' : 'offset and cursor pages differ' });
  }
  return checks;
}
