import { RawJson } from '../common/http/raw-json';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { BatchSender } from '../database/batch-sender';
import { KeyedBatches } from '../database/keyed-batches';
import { Bytes, copyPage } from '../database/copy-query';
import { driverQuery } from '../database/driver-pool';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import { isoDate, isoText as iso, sqlList } from '../database/sql-literals';
import type { TraceContext } from '../common/http/trace-context';
import { ExecutionStatus, TERMINAL_STATUSES } from './execution-status';
import { sources } from './transitions';
import { CHANGES_CHANNEL } from '../event-log/event-types';
import { LOGGER } from '../logging/logger';
import type { FlowExecutionRow } from './dto/flow-execution.dto';
import { anyTag, hasTag, Selection, selectionWhere, taggedWith } from './selection';

// `input` as JSON text, never parsed nor serialized again here: spliced into answers and events as is (docs/api.md#event-loop-budget).
export const COLUMNS = `fe.id, fe.organization_id, fe.flow_id, fe.flow_version, fe.status, fe.input::text AS input, fe.run_number, fe.redrive_count,
  fe.triggered_task_executor_name, fe.pricing_config_id, fe.modified_by, fe.traceparent, fe.tracestate,
  ${iso('fe.created_at')} AS created_at, ${iso('fe.updated_at')} AS updated_at`;
// Covered by task_executions_task_uq (flow_execution_id, ...) INCLUDE (credits): one index range per execution.
const TOTAL_CREDITS = `(SELECT sum(te.credits) FROM task_executions te WHERE te.flow_execution_id = fe.id) AS total_credits`;

const READ = { name: 'flow_execution_read_by_id', text: `SELECT ${COLUMNS} FROM flow_executions fe WHERE fe.id = $1` };
const READ_WITH_CREDITS = {
  name: 'flow_execution_read_by_id_with_credits',
  text: `SELECT ${COLUMNS}, ${TOTAL_CREDITS} FROM flow_executions fe WHERE fe.id = $1`,
};

const READ_BY_RUN = {
  name: 'flow_execution_read_by_run_number',
  text: `SELECT ${COLUMNS} FROM flow_executions fe WHERE fe.flow_id = $1 AND fe.run_number = $2`,
};
const READ_BY_RUN_WITH_CREDITS = {
  name: 'flow_execution_read_by_run_number_with_credits',
  text: `SELECT ${COLUMNS}, ${TOTAL_CREDITS} FROM flow_executions fe WHERE fe.flow_id = $1 AND fe.run_number = $2`,
};

/**
 * The create: the flow read and the run started in one statement. The caller names the version it
 * validated the input against (its cached head); when that is no longer the flow's latest, or the
 * flow is gone, nothing starts and `current` is false.
 */
const START = {
  name: 'start_flow_execution',
  text: `
    WITH head AS (
      SELECT f.organization_id AS org FROM flows f WHERE f.id = $2 AND f.organization_id = $1 AND f.latest_version = $3 AND NOT f.deleted
    ), fe AS (
      SELECT s.* FROM head CROSS JOIN LATERAL start_flow_execution(head.org, $2, $3, $4, $5, $6, $7, $8, $9, $10) s
    )
    SELECT EXISTS (SELECT 1 FROM head) AS current, ${COLUMNS}
      FROM (SELECT 1) one LEFT JOIN fe ON true`,
};

/**
 * Creates of one organization in one statement (KeyedBatches): START for each item of a JSON array,
 * in its order, in one implicit transaction: the organization's lock taken once for all of them, one
 * commit. An item's flow read and checked as START checks it; a row per item, in the items' order.
 */
const START_MANY = {
  name: 'start_flow_executions',
  text: `
    WITH item AS (
      SELECT i.n, e.flow_id, e.flow_version, e.input, e.input_task_name, e.triggered_task_executor_name, e.modified_by, e.traceparent, e.tracestate
        FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS i (value, n),
             jsonb_to_record(i.value) AS e (flow_id uuid, flow_version integer, input jsonb, input_task_name text,
                                            triggered_task_executor_name text, modified_by text, traceparent text, tracestate text)
    ), head AS (
      SELECT item.* FROM item JOIN flows f ON f.id = item.flow_id AND f.organization_id = $1 AND f.latest_version = item.flow_version AND NOT f.deleted
    ), fe AS (
      SELECT head.n, s.*
        FROM (SELECT * FROM head ORDER BY head.n) head
             CROSS JOIN LATERAL start_flow_execution($1, head.flow_id, head.flow_version, head.input, head.input_task_name,
                                                     head.triggered_task_executor_name, head.modified_by, $3, head.traceparent, head.tracestate) s
    )
    SELECT head.n IS NOT NULL AS current, ${COLUMNS}
      FROM item LEFT JOIN head ON head.n = item.n LEFT JOIN fe ON fe.n = item.n
     ORDER BY item.n`,
};

/** The most creates one statement carries, and the most bytes of their inputs (a larger input goes alone). */
const START_MANY_ITEMS = 64;
const START_MANY_BYTES = 1 << 20;

const CHANGE = {
  name: 'change_flow_execution_status',
  text: `SELECT c.outcome, c.previous_status, c.refused_to, ${COLUMNS}
           FROM change_flow_execution_status($1, $2, $3, $4, $5, $6, $7, $8, $9) c CROSS JOIN LATERAL (SELECT (c.fe).*) fe`,
};

/**
 * Status changes of one organization in one statement (KeyedBatches): CHANGE for each item of a
 * JSON array, in its order, in one implicit transaction: the organization's lock taken once, one
 * commit (and its notifications' one turn at PostgreSQL's commit lock). The rows of each item as
 * CHANGE answers them (`columns` of each run), in the items' order.
 */
const changeManyText = (columns: string) => `
    WITH item AS (
      SELECT i.n, e.id, e.rule, e.asked, e.permitted_from, e.active, e.modified_by, e.reason
        FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS i (value, n),
             jsonb_to_record(i.value) AS e (id uuid, rule jsonb, asked text, permitted_from text[], active text[], modified_by text, reason text)
    )
    SELECT item.n, c.outcome, c.previous_status, c.refused_to, ${columns}
      FROM (SELECT * FROM item ORDER BY item.n) item
           CROSS JOIN LATERAL change_flow_execution_status($1, item.id, item.rule, item.asked, item.permitted_from, item.active,
                                                           item.modified_by, item.reason, $3) WITH ORDINALITY AS c
           CROSS JOIN LATERAL (SELECT (c.fe).*) fe
     ORDER BY item.n, c.ordinality`;
const CHANGE_MANY = { name: 'change_flow_execution_status_many', text: changeManyText(COLUMNS) };
/** The same, answering of each run only what decides its outcome: a bulk action's batch of runs may carry 1 MiB of input each. */
const CHANGE_MANY_HEADS = changeManyText('fe.id, fe.organization_id, fe.status');

/** The most status changes one statement carries. */
const CHANGE_MANY_ITEMS = 64;

/** A row of CHANGE or CHANGE_MANY (`n`: the item's ordinal, CHANGE_MANY only). */
type ChangeRow<R extends RunHead = FlowExecutionRow> = R & {
  n?: string;
  outcome: ChangeOutcome;
  previous_status: ExecutionStatus | null;
  refused_to: ExecutionStatus | null;
};

function changedRows<R extends RunHead>(rows: ChangeRow<R>[]): ChangedRow<R>[] {
  return rows.map(({ n: _, outcome, previous_status, refused_to, ...row }) => ({
    outcome,
    previous_status,
    refused_to,
    row: row.id === null ? undefined : (row as unknown as R),
  }));
}

function changeParams(c: StatusChange): unknown[] {
  return [c.organizationId, c.id, c.rule, c.asked, c.permittedFrom, c.active, c.modifiedBy, c.reason, c.defaultLimit];
}

/** CHANGE_MANY's parameters: the changes of one organization, as one JSON array. */
function changeManyParams(changes: StatusChange[]): unknown[] {
  const [{ organizationId, defaultLimit }] = changes;
  const items = changes.map((c) => ({
    id: c.id,
    rule: c.rule,
    asked: c.asked,
    permitted_from: c.permittedFrom,
    active: c.active,
    modified_by: c.modifiedBy,
    reason: c.reason,
  }));
  return [organizationId, JSON.stringify(items), defaultLimit];
}

/** CHANGE_MANY's rows, by the item they answer. */
function changedByItem<R extends RunHead>(changes: StatusChange[], rows: ChangeRow<R>[]): ChangedRow<R>[][] {
  const byItem: ChangeRow<R>[][] = changes.map(() => []);
  for (const row of rows) byItem[Number(row.n) - 1].push(row);
  return byItem.map(changedRows);
}

/** A cancel as change_flow_execution_status is asked it, for the SQL samples. */
const SAMPLE_CANCEL: StatusChange = {
  organizationId: DummyValue.UUID,
  id: DummyValue.UUID2,
  rule: { moves: [{ from: ['queued', 'running'], to: 'cancel_requested' }], otherwise: 'refuse' },
  asked: null,
  permittedFrom: null,
  active: ['running', 'awaiting_input', 'cancel_requested'],
  modifiedBy: 'sample',
  reason: 'cancel',
  defaultLimit: 10,
};

/** What change_flow_execution_status did: to the run (first row), and each run it admitted into a freed slot. */
export type ChangeOutcome = 'moved' | 'unchanged' | 'inaccessible' | 'denied' | 'refused_transition' | 'refused_no_slot' | 'admitted';
export interface ChangedRow<R extends RunHead = FlowExecutionRow> {
  outcome: ChangeOutcome;
  previous_status: ExecutionStatus | null;
  refused_to: ExecutionStatus | null;
  /** The run's row; undefined when there is none. */
  row: R | undefined;
}

/** What decides a run's answer to a status change: its id, organization and status. */
export type RunHead = Pick<FlowExecutionRow, 'id' | 'organization_id' | 'status'>;

/** One status change asked of change_flow_execution_status (the rule is the cause's row of the transition table). */
export interface StatusChange {
  organizationId: string;
  id: string;
  rule: object;
  asked: ExecutionStatus | null;
  /** The statuses from which the caller may make the move; null: any. */
  permittedFrom: ExecutionStatus[] | null;
  active: readonly ExecutionStatus[];
  modifiedBy: string;
  reason: string;
  defaultLimit: number;
}

/**
 * The same create with an `Idempotency-Key`, still one statement: it locks the key's row while it
 * is this request's (else nothing is created), and writes the answer (toFlowExecutionResponse: the
 * row without run number or credits) as the key's outcome, so both commit together or neither does.
 */
const START_KEEPING = {
  name: 'start_flow_execution_keeping',
  text: `
    WITH owned AS (
      SELECT $1::uuid AS org FROM idempotency_keys
       WHERE organization_id = $1 AND operation = $11 AND key = $12 AND owner = $13
       FOR UPDATE
    ), head AS (
      SELECT owned.org FROM owned JOIN flows f ON f.id = $2 AND f.organization_id = owned.org AND f.latest_version = $3 AND NOT f.deleted
    ), fe AS (
      SELECT s.* FROM head CROSS JOIN LATERAL start_flow_execution(head.org, $2, $3, $4, $5, $6, $7, $8, $9, $10) s
    ), kept AS (
      UPDATE idempotency_keys k
         SET response_status = $14, response_body = flow_execution_json(fe::flow_executions) || '{"run_number": null}'::jsonb
        FROM fe
       WHERE k.organization_id = $1 AND k.operation = $11 AND k.key = $12
    )
    SELECT EXISTS (SELECT 1 FROM owned) AS key_owned, EXISTS (SELECT 1 FROM head) AS current, ${COLUMNS}
      FROM (SELECT 1) one LEFT JOIN fe ON true`,
};

/** Change notifications on their own, one per payload: a commit that does not wait for the WAL (nothing durable is written). */
const NOTIFY_CHANGES = {
  name: 'notify_flow_execution_changes',
  text: `SELECT count(pg_notify('${CHANGES_CHANNEL}', p))::int AS sent FROM set_config('synchronous_commit', 'off', true), unnest($1::text[]) AS p`,
};

/** The most notifications one statement sends (each payload is about 75 bytes). */
const NOTIFY_BATCH = 500;

/** The `Idempotency-Key` a create writes its outcome for (OwnedKey of the idempotency module). */
export interface KeyToKeep {
  scope: { organizationId: string; operation: string; key: string };
  owner: string;
  status: number;
}

export interface NewExecution {
  organizationId: string;
  flowId: string;
  flowVersion: number;
  /** The run's input: a value, or a large body's JSON text checked on a JSON worker (sent to PostgreSQL as is). */
  input: Record<string, unknown> | RawJson;
  inputTaskName: string | null;
  triggeredTaskExecutorName: string | null;
  modifiedBy: string;
  /** The W3C trace context of the creating request (docs/api.md#trace-context). */
  trace: TraceContext | null;
}

/** A run to create and a trace context, for the statements written out (`@GenerateSql`). */
const SAMPLE_TRACE: TraceContext = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=value' };
const SAMPLE_RUN: NewExecution = {
  organizationId: DummyValue.UUID,
  flowId: DummyValue.UUID2,
  flowVersion: 1,
  input: {},
  inputTaskName: null,
  triggeredTaskExecutorName: null,
  modifiedBy: 'sample',
  trace: null,
};

/** A create waiting for its statement: the run, its input as JSON text, the limit of an organization that has none of its own. */
interface PendingCreate {
  e: NewExecution;
  input: string;
  defaultConcurrencyLimit: number;
}

/** START's row (START_MANY's, one per item): the run, or nulls when nothing was created. */
type StartedRow = FlowExecutionRow & { current: boolean };

function startParams({ e, input, defaultConcurrencyLimit }: PendingCreate): unknown[] {
  return [
    e.organizationId,
    e.flowId,
    e.flowVersion,
    input,
    e.inputTaskName,
    e.triggeredTaskExecutorName,
    e.modifiedBy,
    defaultConcurrencyLimit,
    e.trace?.traceparent ?? null,
    e.trace?.tracestate ?? null,
  ];
}

export interface ListFilter extends Selection {
  sortField: 'created_at' | 'updated_at';
  sortDirection: 'asc' | 'desc';
  cursorId?: string;
  offset: number;
  limit: number;
  withCredits: boolean;
  /** `run_number` in the bodies; null otherwise. */
  withRunNumber?: boolean;
}

/** A page of runs: their bodies as one JSON array (UTF-8 bytes), how many, and the last one's id. */
export interface ListedPage {
  body: Bytes;
  count: number;
  lastId: string | null;
}

/** One group of the stats, or the total over the selection (`total`); percentiles are null without finished runs. */
export interface StatsRow {
  total: boolean;
  key: string | number | null;
  count: number;
  finished: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export type StatsResult = { flow: 'missing' | 'deleted' | 'foreign' } | { flow: 'ok'; rows: StatsRow[] };

export type PreviewResult = { flow: 'missing' | 'deleted' | 'foreign' } | { flow: 'ok'; matched: number | null; sample: FlowExecutionRow[] };

export type ListResult =
  { flow: 'missing' | 'deleted' } | { flow: 'foreign' } | { flow: 'ok'; cursor: 'missing' | 'ok' | 'none'; page: ListedPage; truncated: boolean };

/**
 * A listed run's body (toFlowExecutionResponse's keys, in its order, compact) as JSON text, built by
 * PostgreSQL from the page's columns and joined into the page's array there: a page of 1,000 runs
 * reaches the process as one string, with no row of 20 fields parsed nor object serialized on the
 * event loop, and nothing per run for the garbage collector to copy while the page is in flight
 * (docs/api.md#event-loop-budget). `to_json` escapes strings exactly as JSON.stringify does (`"`,
 * `\`, `\b\f\n\r\t`, other controls as lowercase `\u00xx`); ids and timestamps need none.
 */
function listedBody(withCredits: boolean, withRunNumber: boolean): string {
  const text = (column: string) => `COALESCE(to_json(page.${column})::text, 'null')`;
  return `'{"id":"' || page.id || '","created_at":"' || page.created_at || '","updated_at":"' || page.updated_at
    || '","modified_by":' || ${text('modified_by')} || ',"flow_id":"' || page.flow_id || '","flow_version":' || page.flow_version
    || ',"status":' || ${text('status')} || ',"input":' || page.input || ',"organization_id":"' || page.organization_id
    || '","pricing_config_id":' || ${text('pricing_config_id')}
    || ',"total_credits":' || ${withCredits ? text('total_credits') : `'null'`}
    || ',"triggered_task_executor_name":' || ${text('triggered_task_executor_name')} || ',"redrive_count":' || page.redrive_count
    || ',"run_number":' || ${withRunNumber ? text('run_number') : `'null'`} || '}'`;
}

// Status lists of the transition table, where a partial index's predicate must match them:
// flow_executions_org_queued_idx (status = 'queued') and flow_executions_flow_terminal_idx (the terminal statuses).
const ADMITTED_FROM = sqlList(sources('admit', 'running'));
const EXPIRED_FROM = sqlList(sources('retention', 'deleted'));
// Finished runs, whose duration counts: those terminal_at is set for.
const FINISHED = sqlList(TERMINAL_STATUSES);
// The flow's TTL as an interval; flows without one never match.
const TTL = `make_interval(secs => (f.settings #>> '{ttl,seconds}')::double precision)`;

/** A run whose own timeout is due, or that has a task whose timeout is due. */
export interface DueExecution {
  organization_id: string;
  id: string;
}

export interface ExpiredExecution {
  organization_id: string;
  id: string;
}

/** Estimated JSON a page of executions may carry; past it the page ends early, after at least one row. */
export const PAGE_BYTES = 4 * 1024 * 1024;

const LIST_SAMPLE: ListFilter = {
  flowId: DummyValue.UUID,
  organizationId: DummyValue.UUID2,
  sortField: 'created_at',
  sortDirection: 'desc',
  offset: 0,
  limit: 50,
  withCredits: false,
};
const TAGS_SAMPLE: [string, string][] = [
  ['customer', 'acme'],
  ['region', 'eu'],
];

/**
 * Hand-written SQL for the hot paths: each read is one round trip. (TypeORM's `query` answers an
 * UPDATE with `[rows, count]`.)
 */
@Injectable()
export class FlowExecutionsRepository {
  /** Creates of one organization handed over while one of its is in flight go together (`start`). */
  private readonly creates = new KeyedBatches<PendingCreate, StartedRow>((items) => this.startMany(items), {
    maxItems: START_MANY_ITEMS,
    bytes: { max: START_MANY_BYTES, size: (item) => item.input.length },
    sent: (n) => this.metrics?.writesSent('create', n),
  });

  /** Status changes of one organization handed over while one of its is in flight go together (`changeStatus`). */
  private readonly changes = new KeyedBatches<StatusChange, ChangedRow[]>((items) => this.changeStatusMany(items), {
    maxItems: CHANGE_MANY_ITEMS,
    sent: (n) => this.metrics?.writesSent('status_change', n),
  });

  /** Created runs' change notifications (`notifyCreated`). */
  private readonly notifications = new BatchSender<string>(
    (payloads) => driverQuery(this.dataSource, NOTIFY_CHANGES, [payloads]),
    NOTIFY_BATCH,
    (error, payloads) => this.logger?.warn({ err: error, notifications: payloads.length }, 'change notifications of creates were not sent'),
  );

  constructor(
    private readonly dataSource: DataSource,
    @Optional() @Inject(LOGGER) private readonly logger?: Logger,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  /**
   * One run by id, for the retrieve endpoint and every service that needs the row (`input` as JSON
   * text); on the driver's pool with a named statement: TypeORM's query runner costs more than the query.
   */
  @GenerateSql({ params: [DummyValue.UUID, false] }, { name: 'with credits', params: [DummyValue.UUID, true] })
  async readById(id: string, withCredits: boolean): Promise<FlowExecutionRow | undefined> {
    const result = await driverQuery<FlowExecutionRow>(this.dataSource, withCredits ? READ_WITH_CREDITS : READ, [id]);
    return result.rows[0];
  }

  /** By flow and run number: one lookup in flow_executions_run_number_uq; `input` as JSON text. */
  @GenerateSql({ params: [DummyValue.UUID, 7, false] }, { name: 'with credits', params: [DummyValue.UUID, 7, true] })
  async readByRunNumber(flowId: string, runNumber: number, withCredits: boolean): Promise<FlowExecutionRow | undefined> {
    const result = await driverQuery<FlowExecutionRow>(this.dataSource, withCredits ? READ_BY_RUN_WITH_CREDITS : READ_BY_RUN, [flowId, runNumber]);
    return result.rows[0];
  }

  /**
   * The flow check, the cursor lookup and the page in one statement. The flow row is always
   * returned when it exists; page columns are null when the page is empty.
   */
  @GenerateSql(
    { name: 'first page', params: [LIST_SAMPLE] },
    { name: 'after a cursor', params: [{ ...LIST_SAMPLE, cursorId: DummyValue.UUID }] },
    {
      name: 'filters, by updated_at with credits',
      params: [
        {
          ...LIST_SAMPLE,
          sortField: 'updated_at',
          sortDirection: 'asc',
          status: ['completed', 'failed'],
          statusExclude: ['stale'],
          createdAfter: DummyValue.TIMESTAMP,
          createdBefore: DummyValue.TIMESTAMP,
          updatedAfter: DummyValue.TIMESTAMP,
          updatedBefore: DummyValue.TIMESTAMP,
          tagsExclude: [['customer', 'acme']],
          withCredits: true,
        },
      ],
    },
    { name: 'with tags', params: [{ ...LIST_SAMPLE, tags: TAGS_SAMPLE }] },
    { name: 'versions and run numbers', params: [{ ...LIST_SAMPLE, versions: [3, 7], runNumberMin: 100, runNumberMax: 200 }] },
    { name: 'with tags, after a cursor, page 3', params: [{ ...LIST_SAMPLE, tags: TAGS_SAMPLE, cursorId: DummyValue.UUID, offset: 100 }] },
  )
  async list(f: ListFilter): Promise<ListResult> {
    const params: unknown[] = [f.flowId, f.organizationId];
    const p = (value: unknown) => `$${params.push(value)}`;
    // `fe.flow_id = $1`, not `= f.id`: the planner then knows the flow's size and walks its index.
    const { where, tags } = selectionWhere(f, p);

    const key = `fe.${f.sortField}`;
    const dir = f.sortDirection === 'asc' ? 'ASC' : 'DESC';
    let cursorJoin = '';
    if (f.cursorId) {
      cursorJoin = `LEFT JOIN flow_executions c ON c.id = ${p(f.cursorId)} AND c.flow_id = f.id`;
      where.push(`(${key}, fe.id) ${dir === 'ASC' ? '>' : '<'} (c.${f.sortField}, c.id)`);
    }
    const [limit, offset] = [`${p(f.limit)}::int`, `${p(f.offset)}::int`];
    const select = `SELECT ${COLUMNS}${f.withCredits ? `, ${TOTAL_CREDITS}` : ''}, 500 + pg_column_size(fe.input) AS bytes FROM flow_executions fe`;
    const order = `ORDER BY ${key} ${dir}, fe.id ${dir}`;
    let page = `${select} WHERE ${where.join(' AND ')} ${order} LIMIT ${limit} OFFSET ${offset}`;
    let tagged = '';
    if (tags) {
      // Two plans, one chosen at run time by how many executions carry the tags (capped count,
      // index-only): few, start from them; many, walk the flow in order and probe each execution.
      // Walking costs about (offset + limit) * flow size / tagged rows, starting from the tag about
      // the tagged rows: the cap is where both meet. Only the chosen branch runs (one-time filter).
      tagged = `WITH budget AS (
          SELECT GREATEST(100, sqrt((${limit} + ${offset})::float8 * executions_count))::int AS n FROM flows WHERE id = $1
        ), tagged AS MATERIALIZED (
          SELECT id FROM (${tags.map(taggedWith).join(' UNION ALL ')}) x LIMIT COALESCE((SELECT n FROM budget), 0) + 1
        ), few AS MATERIALIZED (
          SELECT count(*) <= COALESCE((SELECT n FROM budget), 0) AS yes FROM tagged
        )`;
      const both = `(${select} WHERE (SELECT yes FROM few) AND fe.id IN (SELECT id FROM tagged) AND ${where.join(' AND ')}
                       ${order} LIMIT ${limit} + ${offset})
                    UNION ALL
                    (${select} WHERE NOT (SELECT yes FROM few) AND ${hasTag(tags)} AND ${where.join(' AND ')}
                       ${order} LIMIT ${limit} + ${offset})`;
      page = `SELECT * FROM (${both}) fe ${order} LIMIT ${limit} OFFSET ${offset}`;
    }
    // Only the rows sent are read in full: sizes are the stored ones, summed in page order.
    const sized = `SELECT * FROM (
        SELECT pg.*, sum(pg.bytes) OVER (ORDER BY pg.${f.sortField} ${dir}, pg.id ${dir} ROWS UNBOUNDED PRECEDING) - pg.bytes AS bytes_before,
               count(*) OVER () AS fetched
          FROM (${page}) pg) s
       WHERE s.bytes_before < ${p(PAGE_BYTES)}`;
    // The page as one row: its bodies joined into one JSON array by PostgreSQL, so that the process
    // receives one value (not a row object and a string per run, kept alive until sent), read as
    // the bytes it is sent as (copyPage); the small fields beside it as one JSON object.
    const pageOrder = `page.${f.sortField} ${dir}, page.id ${dir}`;
    const reversed = dir === 'ASC' ? 'DESC' : 'ASC';
    const sql = `${tagged}
      SELECT json_build_object(
               'flow_organization_id', f.organization_id, 'flow_deleted', f.deleted,
               'cursor_found', ${f.cursorId ? 'bool_or(c.id IS NOT NULL)' : 'NULL::boolean'}, 'fetched', max(page.fetched), 'count', count(page.id)::int,
               'last_id', (array_agg(page.id ORDER BY page.${f.sortField} ${reversed}, page.id ${reversed}))[1]
             ) AS head,
             '[' || COALESCE(string_agg(${listedBody(f.withCredits, f.withRunNumber === true)}, ',' ORDER BY ${pageOrder}), '') || ']' AS body
        FROM flows f
        ${cursorJoin}
        LEFT JOIN LATERAL (${sized}) page ON f.organization_id = $2 AND NOT f.deleted
       WHERE f.id = $1
       GROUP BY f.id`;
    const read = await copyPage<{
      flow_organization_id: string;
      flow_deleted: boolean;
      cursor_found: boolean | null;
      fetched: number | null;
      count: number;
      last_id: string | null;
    }>(this.dataSource, sql, params);
    if (!read || read.head.flow_deleted) return { flow: read ? 'deleted' : 'missing' };
    const { head, body } = read;
    if (head.flow_organization_id !== f.organizationId) return { flow: 'foreign' };
    const cursor = head.cursor_found === null ? 'none' : head.cursor_found ? 'ok' : 'missing';
    return {
      flow: 'ok',
      cursor,
      page: { body, count: head.count, lastId: head.last_id },
      truncated: head.count > 0 && head.count < Number(head.fetched),
    };
  }

  /**
   * Exact counts and durations of the selected runs by `groupBy`, and over all of them (the row
   * whose `total` is true), in one statement and one snapshot, with the flow check as the list
   * makes it. Reads flow_executions_flow_stats_idx index-only (docs/api.md#run-statistics).
   */
  @GenerateSql(
    { name: 'by status', params: [{ flowId: DummyValue.UUID, organizationId: DummyValue.UUID2 }, 'status'] },
    {
      name: 'by day, filtered',
      params: [
        { flowId: DummyValue.UUID, organizationId: DummyValue.UUID2, status: ['completed', 'failed'], versions: [2], createdAfter: DummyValue.TIMESTAMP },
        'day',
      ],
    },
    { name: 'by version, tagged', params: [{ flowId: DummyValue.UUID, organizationId: DummyValue.UUID2, tags: TAGS_SAMPLE }, 'flow_version'] },
  )
  async stats(s: Selection, groupBy: 'status' | 'flow_version' | 'day'): Promise<StatsResult> {
    const params: unknown[] = [s.flowId, s.organizationId];
    const p = (value: unknown) => `$${params.push(value)}`;
    const { where, tags } = selectionWhere(s, p, 'join');
    if (tags) where.push(anyTag(tags));
    // Days group on the truncated timestamp (cheaper per row than text) and are formatted once a group.
    const key = { status: 'fe.status', flow_version: 'fe.flow_version', day: `date_trunc('day', fe.created_at AT TIME ZONE 'UTC')` }[groupBy];
    const shown = groupBy === 'day' ? isoDate('g.key') : 'g.key';
    const sql = `
      SELECT f.organization_id AS flow_organization_id, f.deleted AS flow_deleted, st.*
        FROM flows f
        LEFT JOIN LATERAL (
          SELECT GROUPING(g.key) = 1 AS total, g.key AS sort_key, ${shown} AS key, count(*)::int AS count, count(g.seconds)::int AS finished,
                 percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY g.seconds) AS percentiles,
                 max(g.seconds) AS max
            FROM (SELECT ${key} AS key,
                         CASE WHEN fe.status IN ${FINISHED} THEN extract(epoch FROM fe.terminal_at - fe.created_at)::float8 END AS seconds
                    FROM flow_executions fe
                   WHERE ${where.join(' AND ')}) g
           GROUP BY GROUPING SETS ((g.key), ())
        ) st ON f.organization_id = $2 AND NOT f.deleted
       WHERE f.id = $1
       ORDER BY st.total DESC, st.sort_key`;
    const rows: {
      flow_organization_id: string;
      flow_deleted: boolean;
      total: boolean;
      key: string | number | null;
      count: number;
      finished: number;
      percentiles: (number | null)[] | null;
      max: number | null;
    }[] = await this.dataSource.query(sql, params);
    const head = rows[0];
    if (!head || head.flow_deleted) return { flow: head ? 'deleted' : 'missing' };
    if (head.flow_organization_id !== s.organizationId) return { flow: 'foreign' };
    return {
      flow: 'ok',
      rows: rows.map((r) => ({
        total: r.total,
        key: r.key,
        count: r.count,
        finished: r.finished,
        p50: r.percentiles?.[0] ?? null,
        p95: r.percentiles?.[1] ?? null,
        max: r.max,
      })),
    };
  }

  /**
   * A selection's flow check (as the list makes it) and, when asked, how many runs it matches (up
   * to `countUpTo`, then `countUpTo + 1`) and its oldest `sample` runs: a bulk action's preview.
   */
  @GenerateSql(
    { name: 'flow check', params: [{ flowId: DummyValue.UUID, organizationId: DummyValue.UUID2 }, null, 0] },
    { name: 'dry run', params: [{ flowId: DummyValue.UUID, organizationId: DummyValue.UUID2, status: ['queued'], tags: TAGS_SAMPLE }, 100000, 10] },
  )
  async preview(s: Selection, countUpTo: number | null, sample: number): Promise<PreviewResult> {
    const params: unknown[] = [s.flowId, s.organizationId];
    const p = (value: unknown) => `$${params.push(value)}`;
    const { where, tags } = selectionWhere(s, p, 'join');
    if (tags) where.push(anyTag(tags));
    const selected = `FROM flow_executions fe WHERE ${where.join(' AND ')}`;
    const count = countUpTo === null ? 'NULL::int' : `(SELECT count(*)::int FROM (SELECT 1 ${selected} LIMIT ${p(countUpTo)}::int + 1) c)`;
    const rows =
      sample > 0
        ? `(SELECT coalesce(json_agg(x), '[]') FROM (SELECT ${COLUMNS} ${selected} ORDER BY fe.created_at, fe.id LIMIT ${p(sample)}::int) x)`
        : `'[]'::json`;
    // The flow check alone reads no run: the selection's parameters go unsent.
    if (countUpTo === null && sample === 0) params.length = 2;
    const result: { flow_organization_id: string; flow_deleted: boolean; matched: number | null; sample: FlowExecutionRow[] | null }[] =
      await this.dataSource.query(
        `SELECT f.organization_id AS flow_organization_id, f.deleted AS flow_deleted, pv.matched, pv.sample
           FROM flows f
           LEFT JOIN LATERAL (SELECT ${count} AS matched, ${rows} AS sample) pv ON f.organization_id = $2 AND NOT f.deleted
          WHERE f.id = $1`,
        params,
      );
    const head = result[0];
    if (!head || head.flow_deleted) return { flow: head ? 'deleted' : 'missing' };
    if (head.flow_organization_id !== s.organizationId) return { flow: 'foreign' };
    return { flow: 'ok', matched: head.matched, sample: head.sample ?? [] };
  }

  /**
   * Creates the execution in one statement (start_flow_execution, see its migration): the run
   * number from the flow's counter under the flow's row lock, created_at strictly increasing per
   * flow, running when the organization has a free slot, and the created event appended under the
   * organization's ordering lock, all in one round trip and one implicit transaction, on the
   * condition that `flowVersion` is still the flow's latest (START): `'stale'` when it is not or the
   * flow is gone, and nothing was created. With `keep`, the same statement writes the answer as the key's outcome
   * (START_KEEPING); `'key_lost'` when the key is no longer the request's, and nothing was created.
   *
   * Without `keep`, creates of one organization handed over while one of its is in flight go in the
   * next statement together (START_MANY, `creates`): they would queue on the organization's lock one
   * commit after another anyway, and together they hold it once and share one commit. Each is still
   * checked, numbered, limited and evented as alone; at low load a create goes at once, alone.
   */
  @GenerateSql(
    {
      params: [{ ...SAMPLE_RUN, trace: SAMPLE_TRACE }, 10],
    },
    {
      name: 'keeping an Idempotency-Key',
      params: [
        SAMPLE_RUN,
        10,
        { scope: { organizationId: DummyValue.UUID, operation: 'POST /api/flow-executions', key: 'sample' }, owner: DummyValue.UUID2, status: 201 },
      ],
    },
  )
  async start(e: NewExecution, defaultConcurrencyLimit: number, keep?: KeyToKeep): Promise<FlowExecutionRow | 'stale' | 'key_lost'> {
    const input = e.input instanceof RawJson ? e.input.text : JSON.stringify(e.input);
    let result: StartedRow & { key_owned?: boolean };
    if (!keep) {
      result = await this.creates.add(e.organizationId, { e, input, defaultConcurrencyLimit });
    } else {
      if (keep.scope.organizationId !== e.organizationId) throw new Error('an Idempotency-Key is kept for its own organization');
      const extra = [keep.scope.operation, keep.scope.key, keep.owner, keep.status];
      const params = [...startParams({ e, input, defaultConcurrencyLimit }), ...extra];
      result = (await driverQuery<StartedRow & { key_owned: boolean }>(this.dataSource, START_KEEPING, params)).rows[0];
      if (!result.key_owned) return 'key_lost';
    }
    const { current, key_owned: _, ...row } = result;
    // Not current: the version moved on or the flow went. Current without a row: deleted under the function's lock.
    if (!current || row.id === null) return 'stale';
    void this.notifyCreated(row);
    return row;
  }

  /** Creates of one organization handed over together (`creates`): START for one, START_MANY for several. */
  @GenerateSql({
    params: [
      [
        {
          e: SAMPLE_RUN,
          input: '{}',
          defaultConcurrencyLimit: 10,
        },
        {
          e: { ...SAMPLE_RUN, inputTaskName: 'receive', trace: SAMPLE_TRACE },
          input: '{"a": 1}',
          defaultConcurrencyLimit: 10,
        },
      ],
    ],
  })
  async startMany(items: PendingCreate[]): Promise<StartedRow[]> {
    if (items.length === 1) return (await driverQuery<StartedRow>(this.dataSource, START, startParams(items[0]))).rows;
    const [{ e: first, defaultConcurrencyLimit }] = items;
    const json = items.map(
      ({ e, input }) =>
        `{"input":${input},${JSON.stringify({
          flow_id: e.flowId,
          flow_version: e.flowVersion,
          input_task_name: e.inputTaskName,
          triggered_task_executor_name: e.triggeredTaskExecutorName,
          modified_by: e.modifiedBy,
          traceparent: e.trace?.traceparent ?? null,
          tracestate: e.trace?.tracestate ?? null,
        }).slice(1)}`,
    );
    return (await driverQuery<StartedRow>(this.dataSource, START_MANY, [first.organizationId, `[${json.join(',')}]`, defaultConcurrencyLimit])).rows;
  }

  /**
   * The created run's change notification, once its create has committed, in a transaction of its
   * own whose commit does not wait for the WAL flush (what it writes is the notification alone, which
   * PostgreSQL never keeps across a restart anyway). PostgreSQL serializes the commits of all
   * transactions that NOTIFY on one lock, held until their WAL is flushed: sent from the create's own
   * transaction, it queued every create of every organization behind the one before it.
   *
   * One statement at a time per process (BatchSender): with none in flight, this one goes at the end
   * of the event loop's turn; those handed over meanwhile go together in the next, so that under load
   * a create costs a share of a round trip rather than one. `start` does not wait for it: the answer
   * does not wait for the waiters' wake-up, and a lost one (the database gone in between) leaves them
   * to their next wake-up or their timeout, as a lost connection would. Resolves once everything
   * handed over so far has been sent.
   */
  @GenerateSql({ params: [{ organization_id: DummyValue.UUID, id: DummyValue.UUID2 }] })
  notifyCreated(row: Pick<FlowExecutionRow, 'organization_id' | 'id'>): Promise<void> {
    return this.notifications.add(`${row.organization_id} ${row.id}`);
  }

  /**
   * A status change in one statement and its own transaction (change_flow_execution_status): the
   * organization's lock, the run's, the decision by the rule given, the write, admissions, the events.
   * Changes of one organization handed over while one of its is in flight go in the next statement
   * together (CHANGE_MANY, `changes`): they would queue on the organization's lock one commit after
   * another anyway. Each is still decided on the run as the ones before it in the statement left it.
   */
  changeStatus(c: StatusChange): Promise<ChangedRow[]> {
    return this.changes.add(c.organizationId, c);
  }

  /** Status changes of one organization handed over together (`changes`): CHANGE for one, CHANGE_MANY for several. */
  @GenerateSql({
    params: [
      [
        {
          organizationId: DummyValue.UUID,
          id: DummyValue.UUID2,
          rule: { moves: [{ from: ['running'], to: 'completed' }], otherwise: 'refuse' },
          asked: 'completed',
          permittedFrom: ['running'],
          active: ['running', 'awaiting_input', 'cancel_requested'],
          modifiedBy: 'sample',
          reason: 'patch',
          defaultLimit: 10,
        },
        SAMPLE_CANCEL,
      ],
    ],
  })
  async changeStatusMany(changes: StatusChange[]): Promise<ChangedRow[][]> {
    if (changes.length === 1) return [changedRows((await driverQuery<ChangeRow>(this.dataSource, CHANGE, changeParams(changes[0]))).rows)];
    return changedByItem(changes, (await driverQuery<ChangeRow>(this.dataSource, CHANGE_MANY, changeManyParams(changes))).rows);
  }

  /**
   * The same status changes of one organization's runs in the caller's transaction `m` (a bulk
   * action's batch): CHANGE_MANY on its connection, each run's rows (their heads) in the order of `changes`.
   */
  @GenerateSql({
    params: [DummyValue.MANAGER, [SAMPLE_CANCEL]],
  })
  async changeStatusWithin(m: EntityManager, changes: StatusChange[]): Promise<ChangedRow<RunHead>[][]> {
    if (changes.length === 0) return [];
    return changedByItem<RunHead>(changes, await m.query(CHANGE_MANY_HEADS, changeManyParams(changes)));
  }

  /** Locks the execution's row for a status change; callers hold the organization lock first. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async lockForUpdate(m: EntityManager, id: string): Promise<FlowExecutionRow | undefined> {
    const rows: FlowExecutionRow[] = await m.query(`SELECT ${COLUMNS} FROM flow_executions fe WHERE fe.id = $1 FOR NO KEY UPDATE`, [id]);
    return rows[0];
  }

  /**
   * The KEY SHARE lock of a task writer: writers that hold the run's row lock and then touch its
   * tasks cannot wait on it in turn, so run-then-task is the one lock order.
   */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async lockKeyShare(m: EntityManager, id: string): Promise<void> {
    await m.query(`SELECT 1 FROM flow_executions WHERE id = $1 FOR KEY SHARE`, [id]);
  }

  /** KEY SHARE locks on several executions, in id order (any organization: the caller decides 403 / 404). */
  @GenerateSql({ params: [DummyValue.MANAGER, [DummyValue.UUID, DummyValue.UUID2]] })
  async lockShared(m: EntityManager, ids: string[]): Promise<FlowExecutionRow[]> {
    return m.query(`SELECT ${COLUMNS} FROM flow_executions fe WHERE fe.id = ANY($1::uuid[]) ORDER BY fe.id FOR KEY SHARE`, [ids]);
  }

  /** The status move of one run, on the condition its rule states: undefined when the run is in none of `from`. */
  @GenerateSql(
    { params: [DummyValue.MANAGER, DummyValue.UUID, { from: sources('patch', 'completed'), to: 'completed' }, 'sample'] },
    { name: 're-execution', params: [DummyValue.MANAGER, DummyValue.UUID, { from: sources('re_execute', 'running'), to: 'running' }, 'sample', 2] },
    {
      name: 're-execution with a trace context',
      params: [
        DummyValue.MANAGER,
        DummyValue.UUID,
        { from: sources('re_execute', 'running'), to: 'running' },
        'sample',
        2,
        { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: null },
      ],
    },
    { name: 'redrive', params: [DummyValue.MANAGER, DummyValue.UUID, { from: sources('redrive', 'running'), to: 'running' }, 'sample', null, null, 1] },
  )
  async setStatus(
    m: EntityManager,
    id: string,
    move: { from: readonly ExecutionStatus[]; to: ExecutionStatus },
    modifiedBy: string,
    flowVersion: number | null = null,
    trace: TraceContext | null = null,
    redrives = 0,
  ): Promise<FlowExecutionRow | undefined> {
    // A trace context given replaces the run's, tracestate included (docs/api.md#trace-context).
    const traced = trace ? `, traceparent = $6, tracestate = $7` : '';
    // A redrive counts itself on the run (docs/api.md#redrive).
    const redriven = redrives > 0 ? `, redrive_count = fe.redrive_count + ${Number(redrives)}` : '';
    const [rows]: [FlowExecutionRow[]] = await m.query(
      `UPDATE flow_executions fe
          SET status = $2, modified_by = $3, flow_version = COALESCE($4, fe.flow_version),
              updated_at = GREATEST(clock_timestamp(), fe.updated_at + interval '1 microsecond')${traced}${redriven}
        WHERE fe.id = $1 AND fe.status = ANY($5::text[])
      RETURNING ${COLUMNS}`,
      trace ? [id, move.to, modifiedBy, flowVersion, move.from, trace.traceparent, trace.tracestate] : [id, move.to, modifiedBy, flowVersion, move.from],
    );
    return rows[0];
  }

  /** Deleted executions' tags leave their flow's tag list; they stay, as the rest of their data does. */
  @GenerateSql({ params: [DummyValue.MANAGER, [DummyValue.UUID, DummyValue.UUID2]] })
  async retireTags(m: EntityManager, flowExecutionIds: string[]): Promise<void> {
    await m.query(`UPDATE task_execution_tags SET execution_deleted = true WHERE flow_execution_id = ANY($1::uuid[]) AND NOT execution_deleted`, [
      flowExecutionIds,
    ]);
  }

  /** How many of the organization's executions wait for a slot (flow_executions_org_queued_idx). */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async queuedCount(m: EntityManager, organizationId: string): Promise<number> {
    const rows: { n: number }[] = await m.query(`SELECT count(*)::int AS n FROM flow_executions WHERE organization_id = $1 AND status = 'queued'`, [
      organizationId,
    ]);
    return rows[0].n;
  }

  /**
   * A re-execution: a full one gives every task a new queued attempt (earlier attempts stay as
   * history); a stale-only one resets the stale task executions in place. Edits count as re-executed.
   */
  @GenerateSql(
    { name: 'full', params: [DummyValue.MANAGER, DummyValue.UUID, false] },
    { name: 'stale only', params: [DummyValue.MANAGER, DummyValue.UUID, true] },
  )
  async restartTasks(m: EntityManager, flowExecutionId: string, onlyStale: boolean): Promise<void> {
    if (onlyStale) {
      await m.query(
        `UPDATE task_executions
            SET processing_status = 'queued', stale_status = 'consistent', output = NULL, error = NULL,
                started_at = NULL, completed_at = NULL, modified_by = 'system', updated_at = clock_timestamp()
          WHERE flow_execution_id = $1 AND stale_status = 'stale'`,
        [flowExecutionId],
      );
    } else {
      await m.query(
        `INSERT INTO task_executions (organization_id, flow_execution_id, task_name, task_execution_idx, processing_status)
         SELECT organization_id, flow_execution_id, task_name, max(task_execution_idx) + 1, 'queued'
           FROM task_executions WHERE flow_execution_id = $1
          GROUP BY organization_id, flow_execution_id, task_name`,
        [flowExecutionId],
      );
    }
    await m.query(
      `UPDATE task_executions SET edited_status = 'edited_reexecuted', updated_at = clock_timestamp()
        WHERE flow_execution_id = $1 AND edited_status = 'edited_not_reexecuted'`,
      [flowExecutionId],
    );
  }

  /**
   * A redrive's tasks: the latest attempt of each task goes back to `queued` in place, output and
   * error cleared. Without `taskNames`, those failed, cancelled or never finished (completed ones
   * keep their outputs); with them, those tasks whatever their status (a task and its downstream).
   */
  @GenerateSql(
    { name: 'unfinished', params: [DummyValue.MANAGER, DummyValue.UUID, null] },
    { name: 'from a task', params: [DummyValue.MANAGER, DummyValue.UUID, ['extract', 'review']] },
  )
  async redriveTasks(m: EntityManager, flowExecutionId: string, taskNames: string[] | null): Promise<number> {
    const [, count]: [unknown, number] = await m.query(
      `UPDATE task_executions te
          SET processing_status = 'queued', output = NULL, error = NULL, started_at = NULL, completed_at = NULL,
              stale_status = 'consistent', modified_by = 'system',
              updated_at = GREATEST(clock_timestamp(), te.updated_at + interval '1 microsecond')
        WHERE te.id IN (
          SELECT DISTINCT ON (l.task_name) l.id FROM task_executions l
           WHERE l.flow_execution_id = $1 AND l.processing_status <> 'deleted'
           ORDER BY l.task_name, l.task_execution_idx DESC)
          AND CASE WHEN $2::text[] IS NULL THEN te.processing_status <> 'completed' ELSE te.task_name = ANY($2::text[]) END`,
      [flowExecutionId, taskNames],
    );
    return count;
  }

  /** Admits the oldest waiting executions of the organization while it has free slots. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, 10] })
  async promoteWaiting(m: EntityManager, organizationId: string, concurrencyLimit: number): Promise<FlowExecutionRow[]> {
    const [rows]: [FlowExecutionRow[]] = await m.query(
      `UPDATE flow_executions fe
          SET status = 'running', updated_at = GREATEST(clock_timestamp(), fe.updated_at + interval '1 microsecond')
        WHERE fe.id IN (
          SELECT q.id FROM flow_executions q
           WHERE q.organization_id = $1 AND q.status IN ${ADMITTED_FROM}
           ORDER BY q.created_at, q.id
           LIMIT GREATEST(0, $2 - (SELECT o.active_executions FROM organizations o WHERE o.id = $1))
        )
      RETURNING ${COLUMNS}`,
      [organizationId, concurrencyLimit],
    );
    return rows;
  }

  /**
   * Executions past their flow's TTL, oldest first per flow, without locking: each flow's due rows
   * come from flow_executions_flow_terminal_idx (flow_id, terminal_at) over terminal rows only.
   */
  @GenerateSql({ params: [100] })
  async findExpired(limit: number): Promise<ExpiredExecution[]> {
    return this.dataSource.query(
      `SELECT due.organization_id, due.id
         FROM flows f
         CROSS JOIN LATERAL (
           SELECT fe.organization_id, fe.id
             FROM flow_executions fe
            WHERE fe.flow_id = f.id AND fe.status IN ${EXPIRED_FROM} AND fe.terminal_at <= clock_timestamp() - ${TTL}
            ORDER BY fe.terminal_at
            LIMIT $1
         ) due
        WHERE f.settings #>> '{ttl,seconds}' IS NOT NULL
        LIMIT $1`,
      [limit],
    );
  }

  /**
   * Soft-deletes those of `ids` that are still due, skipping rows another transaction holds (another
   * replica's sweep, an API write): each is deleted once, and nobody waits for the sweep's locks.
   */
  @GenerateSql({ params: [DummyValue.MANAGER, [DummyValue.UUID, DummyValue.UUID2]] })
  async deleteExpired(m: EntityManager, ids: string[]): Promise<(FlowExecutionRow & { previous_status: ExecutionStatus })[]> {
    const [rows]: [(FlowExecutionRow & { previous_status: ExecutionStatus })[]] = await m.query(
      `WITH due AS (
         SELECT fe.id, fe.status
           FROM flow_executions fe JOIN flows f ON f.id = fe.flow_id
          WHERE fe.id = ANY($1::uuid[]) AND fe.status IN ${EXPIRED_FROM} AND fe.terminal_at <= clock_timestamp() - ${TTL}
          FOR NO KEY UPDATE OF fe SKIP LOCKED
       )
       UPDATE flow_executions fe
          SET status = 'deleted', modified_by = 'retention',
              updated_at = GREATEST(clock_timestamp(), fe.updated_at + interval '1 microsecond')
         FROM due
        WHERE fe.id = due.id
      RETURNING ${COLUMNS}, due.status AS previous_status`,
      [ids],
    );
    return rows;
  }
  /**
   * Runs whose own timeout (settings.timeouts, kept by flow_executions_timeout_at) is due, soonest
   * first, from flow_executions_timeout_idx (`now()`, not the volatile clock_timestamp(), so that the index applies).
   */
  @GenerateSql({ params: [100] })
  async findDue(limit: number): Promise<DueExecution[]> {
    return this.dataSource.query(`SELECT fe.organization_id, fe.id FROM flow_executions fe WHERE fe.timeout_at <= now() ORDER BY fe.timeout_at LIMIT $1`, [
      limit,
    ]);
  }

  /** Runs whose timeout passed more than `graceMs` ago (at most `cap` counted): what the sweep has not kept up with. */
  @GenerateSql({ params: [1000, 100000] })
  async countOverdue(graceMs: number, cap: number): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM (
         SELECT 1 FROM flow_executions fe WHERE fe.timeout_at <= now() - make_interval(secs => $1 / 1000.0) LIMIT $2
       ) overdue`,
      [graceMs, cap],
    );
    return rows[0].n;
  }

  /**
   * The runs' locks for a sweep that never waits, in id order: those another transaction holds (or
   * that are gone) are left out; `due_reason` is a run's own timeout's reason when due now, else null.
   */
  @GenerateSql({ params: [DummyValue.MANAGER, [DummyValue.UUID, DummyValue.UUID2]] })
  async tryLockDue(m: EntityManager, ids: string[]): Promise<(FlowExecutionRow & { due_reason: string | null })[]> {
    return m.query(
      `SELECT ${COLUMNS}, CASE WHEN fe.timeout_at <= clock_timestamp() THEN fe.timeout_reason END AS due_reason
         FROM flow_executions fe WHERE fe.id = ANY($1::uuid[]) ORDER BY fe.id FOR NO KEY UPDATE SKIP LOCKED`,
      [ids],
    );
  }
}
