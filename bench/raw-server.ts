import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'pg';

/**
 * The ceiling: the same reads as the app, with the same SQL and the same JSON, and nothing else
 * (no framework, no auth, no validation, no logging). The caller's organization comes from
 * ORG_ID, standing in for the token's org_id. Env: DATABASE_URL, PORT, POOL_SIZE, ORG_ID.
 */

const ORG_ID = required('ORG_ID');
// The app's pool: same size, same connection options (buildDataSourceOptions).
const pool = new Pool({
  connectionString: required('DATABASE_URL'),
  max: Number(required('POOL_SIZE')),
  connectionTimeoutMillis: 5000,
  options: '-c TimeZone=UTC',
});

// Copied from FlowExecutionsRepository, so that the database does exactly the same work.
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
// `input` as JSON text, spliced into the answer unparsed, as the app's read paths do.
const COLUMNS = `fe.id, fe.organization_id, fe.flow_id, fe.flow_version, fe.status, fe.input::text AS input, fe.run_number, fe.redrive_count,
  fe.triggered_task_executor_name, fe.pricing_config_id, fe.modified_by,
  ${iso('fe.created_at')} AS created_at, ${iso('fe.updated_at')} AS updated_at`;
const FIND_BY_ID = `SELECT ${COLUMNS} FROM flow_executions fe WHERE fe.id = $1`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Row {
  id: string;
  organization_id: string;
  flow_id: string;
  flow_version: number;
  status: string;
  input: string;
  run_number: number;
  redrive_count: number;
  triggered_task_executor_name: string | null;
  pricing_config_id: string | null;
  modified_by: string;
  created_at: string;
  updated_at: string;
}

// toFlowExecutionResponse, same field order (credits are not benchmarked: always null), as JSON text.
const RAW_INPUT = '"\\u0000input"'; // how JSON.stringify writes the marker below
const toJson = (row: Row, includeRunNumber: boolean) => JSON.stringify(toResponse(row, includeRunNumber)).replace(RAW_INPUT, () => row.input);
const toResponse = (row: Row, includeRunNumber: boolean) => ({
  id: row.id,
  created_at: row.created_at,
  updated_at: row.updated_at,
  modified_by: row.modified_by,
  flow_id: row.flow_id,
  flow_version: row.flow_version,
  status: row.status,
  input: '\u0000input',
  organization_id: row.organization_id,
  pricing_config_id: row.pricing_config_id,
  total_credits: null,
  triggered_task_executor_name: row.triggered_task_executor_name,
  redrive_count: row.redrive_count,
  run_number: includeRunNumber ? row.run_number : null,
});

async function getById(res: ServerResponse, id: string, query: URLSearchParams, ifNoneMatch: string | undefined): Promise<void> {
  if (!UUID.test(id)) return send(res, 400, error('Invalid execution ID format'));
  const { rows } = await pool.query<Row>(FIND_BY_ID, [id.toLowerCase()]);
  const row = rows[0];
  if (!row || row.status === 'deleted') return send(res, 404, error('Flow execution not found'));
  if (row.organization_id !== ORG_ID) return send(res, 403, error('You do not have permission to access this flow execution'));
  const includeRunNumber = query.get('include_run_number') === 'true';
  // The app's ETag formula (FlowExecutionsService.getConditional).
  const etag = `"${row.updated_at.replace(/\D/g, '')}-${row.status}-${includeRunNumber ? 'r' : ''}"`;
  const headers = { ETag: etag, 'Cache-Control': 'private, no-cache' };
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  sendText(res, 200, toJson(row, includeRunNumber), headers);
}

/** The list with the parameters the benchmark uses (flow, page, page_size, cursor), built as the repository builds it. */
async function list(res: ServerResponse, url: URL): Promise<void> {
  const query = url.searchParams;
  const flowId = query.get('flow_id') ?? '';
  const cursorId = query.get('start_from_execution_id');
  const pageSize = Number(query.get('page_size') ?? 10);
  const page = Number(query.get('page') ?? 1);
  if (!UUID.test(flowId) || (cursorId !== null && !UUID.test(cursorId))) return send(res, 422, error('invalid query'));

  const params: unknown[] = [flowId.toLowerCase(), ORG_ID];
  const p = (value: unknown) => `$${params.push(value)}`;
  const where = [`fe.flow_id = $1`, `fe.status <> 'deleted'`];
  let cursorJoin = '';
  if (cursorId) {
    cursorJoin = `LEFT JOIN flow_executions c ON c.id = ${p(cursorId.toLowerCase())} AND c.flow_id = f.id`;
    where.push(`(fe.created_at, fe.id) < (c.created_at, c.id)`);
  }
  const sql = `
      SELECT f.organization_id AS flow_organization_id, f.deleted AS flow_deleted,
             ${cursorId ? 'c.id IS NOT NULL' : 'NULL::boolean'} AS cursor_found, page.*
        FROM flows f
        ${cursorJoin}
        LEFT JOIN LATERAL (
          SELECT ${COLUMNS}
            FROM flow_executions fe
           WHERE ${where.join(' AND ')}
           ORDER BY fe.created_at DESC, fe.id DESC
           LIMIT ${p(pageSize)} OFFSET ${p((page - 1) * pageSize)}
        ) page ON f.organization_id = $2 AND NOT f.deleted
       WHERE f.id = $1
       ORDER BY page.created_at DESC, page.id DESC`;
  const { rows } = await pool.query<Row & { flow_organization_id: string; flow_deleted: boolean; cursor_found: boolean | null }>(sql, params);

  const head = rows[0];
  if (!head || head.flow_deleted) return send(res, 404, error('Flow not found'));
  if (head.flow_organization_id !== ORG_ID) return send(res, 403, error("User doesn't have access to this flow"));
  if (head.cursor_found === false) return send(res, 400, error('start_from_execution_id does not name an execution of this flow'));
  const includeRunNumber = query.get('include_run_number') === 'true';
  const items = head.id === null ? [] : rows;
  const headers: Record<string, string> = {};
  if (items.length === pageSize) {
    // nextPageLink: the same query, paged by cursor.
    const next = new URL(url);
    next.searchParams.delete('page');
    next.searchParams.set('start_from_execution_id', items[items.length - 1].id);
    headers.Link = `<${next.pathname}${next.search}>; rel="next"`;
  }
  sendText(res, 200, `[${items.map((row) => toJson(row, includeRunNumber)).join(',')}]`, headers);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(res, status, JSON.stringify(body), headers);
}

function sendText(res: ServerResponse, status: number, json: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}

const error = (message: string) => ({ error: { message } });

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://raw');
  const path = url.pathname;
  if (req.method === 'GET' && path.startsWith('/api/flow-executions/')) {
    return getById(res, decodeURIComponent(path.slice('/api/flow-executions/'.length)), url.searchParams, req.headers['if-none-match']);
  }
  if (req.method === 'GET' && path === '/api/flow-executions') return list(res, url);
  if (req.method === 'GET' && path === '/health/ready') {
    await pool.query('SELECT 1');
    return send(res, 200, { status: 'ok' });
  }
  send(res, 404, error('Not found'));
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`raw-server: ${name} is required`);
  return value;
}

const server = createServer((req, res) => {
  route(req, res).catch((err: unknown) => {
    console.error(err);
    if (!res.headersSent) send(res, 500, error('Internal server error'));
    else res.destroy();
  });
});
server.listen(Number(required('PORT')), '127.0.0.1');
// The orchestrator stops it with SIGTERM; the pool's sockets must not keep it alive.
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  pool.end().finally(() => process.exit(0));
});
