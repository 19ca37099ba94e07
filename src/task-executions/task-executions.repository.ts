import { RawJson } from '../common/http/raw-json';
import { Injectable, Optional } from '@nestjs/common';
import { MetricsService } from '../common/metrics/metrics.service';
import { DataSource, EntityManager } from 'typeorm';
import type { RunTrace } from '../common/http/trace-context';
import { RequestValidationError } from '../common/validation/validation-error';
import { Bytes, copyPage } from '../database/copy-query';
import { driverQuery } from '../database/driver-pool';
import { KeyedBatches } from '../database/keyed-batches';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import { isoMillisText, isoText, sqlList } from '../database/sql-literals';
import { HeartbeatRow } from './dto/task-heartbeat.dto';
import { UNFINISHED_TASK_STATUSES } from './dto/task-status.dto';
import { MAX_TASK_TAGS, ParsedTag } from './task-tags';
import type { TaskExecutionTagEntity } from './task-execution-tag.entity';
import type { TaskExecutionRow } from './task-execution.entity';
import type { FlowExecutionRow } from '../flow-executions/dto/flow-execution.dto';
import type { ExecutionStatus } from '../flow-executions/execution-status';
import type { FlowTaskStatusRow } from './dto/task-status.dto';

/**
 * A task execution's columns (TaskExecutionRow), for every query that answers one: the JSON columns
 * as text, spliced into answers and events unparsed (docs/api.md#event-loop-budget), so that a
 * 1 MiB output written or read is never parsed nor serialized again on the event loop.
 */
export const COLUMNS = `te.id, te.organization_id, te.flow_execution_id, te.task_name, te.task_execution_idx, te.processing_status,
  te.edited_status, te.stale_status, te.input::text AS input, te.output::text AS output, te.error::text AS error,
  te.source_task_executions::text AS source_task_executions, te.started_at, te.completed_at, te.credits, te.modified_by, te.created_at, te.updated_at`;
const HEARTBEAT_FROM = sqlList(UNFINISHED_TASK_STATUSES);
// A hot path: a named statement on the driver's pool, as the retrieve endpoints do.
const HEARTBEAT = {
  name: 'task_execution_heartbeat',
  text: `WITH target AS (
         SELECT te.id, te.organization_id, te.processing_status, fe.status AS run_status, fe.traceparent, fe.tracestate
           FROM task_executions te JOIN flow_executions fe ON fe.id = te.flow_execution_id
          WHERE te.id = $1
       ), beat AS (
         UPDATE task_executions te
            SET heartbeat_at = clock_timestamp(), heartbeat_details = CASE WHEN $4 THEN $3::jsonb ELSE te.heartbeat_details END
           FROM target
          WHERE te.id = target.id AND target.organization_id = $2 AND target.run_status <> 'deleted'
            AND te.processing_status IN ${HEARTBEAT_FROM}
         RETURNING te.id, te.timeout_at
       )
       SELECT target.organization_id, target.processing_status, target.run_status, target.traceparent, target.tracestate,
              beat.id IS NOT NULL AS beaten,
              ${isoText('beat.timeout_at')} AS lease_expires_at
         FROM target LEFT JOIN beat ON true`,
};

/**
 * A task report in one statement: the run with its pinned version's task names, and, when the run
 * is the organization's, not deleted and every name one of its version's, the statuses recorded in
 * the order given (as RETURNING gives them, the one run row outside). The run's row is returned
 * whatever happened, so the caller decides 404, 403, 400.
 */
const REPORT = {
  name: 'report_task_statuses',
  text: `WITH run AS (
      SELECT fe.organization_id, fe.status, fe.flow_version, v.task_names,
             fe.organization_id = $2 AND fe.status <> 'deleted' AND $3::text[] <@ v.task_names AS accepted
        FROM flow_executions fe JOIN flow_versions v ON v.flow_id = fe.flow_id AND v.version = fe.flow_version
       WHERE fe.id = $1
    ), written AS (
      INSERT INTO flow_task_statuses (organization_id, flow_execution_id, task_name, status, created_at)
      SELECT $2, $1, item.task_name, item.status, clock_timestamp()
        FROM run, unnest($3::text[], $4::text[]) WITH ORDINALITY AS item (task_name, status, n)
       WHERE run.accepted
       ORDER BY item.n
      RETURNING id, flow_execution_id, task_name, status, created_at, organization_id
    )
    SELECT run.organization_id AS run_organization_id, run.status AS run_status, run.flow_version AS run_flow_version,
           CASE WHEN run.accepted THEN NULL ELSE run.task_names END AS run_task_names, written.*
      FROM run LEFT JOIN written ON true`,
};

/**
 * Reports of one organization in one statement (KeyedBatches): REPORT for each item of a JSON array,
 * in one implicit transaction and one commit. Each status's id is drawn before the insert, so that
 * each written row is matched to its report (two reports of one run may share the statement). A row
 * per status written, in the items' order and each item's order; one row of its run alone for an
 * item that wrote nothing (nulls when the run does not exist).
 */
const REPORT_MANY = {
  name: 'report_task_statuses_many',
  text: `WITH item AS (
      SELECT i.n, e.run_id, e.task_names, e.statuses
        FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS i (value, n),
             jsonb_to_record(i.value) AS e (run_id uuid, task_names text[], statuses text[])
    ), run AS (
      SELECT item.n, fe.organization_id, fe.status, fe.flow_version, v.task_names,
             fe.organization_id = $1 AND fe.status <> 'deleted' AND item.task_names <@ v.task_names AS accepted
        FROM item
        JOIN flow_executions fe ON fe.id = item.run_id
        JOIN flow_versions v ON v.flow_id = fe.flow_id AND v.version = fe.flow_version
    ), planned AS (
      SELECT gen_random_uuid() AS id, s.*
        FROM (SELECT item.n, st.k, item.run_id, st.task_name, st.status
                FROM item
                JOIN run ON run.n = item.n AND run.accepted
                CROSS JOIN LATERAL unnest(item.task_names, item.statuses) WITH ORDINALITY AS st (task_name, status, k)
               ORDER BY item.n, st.k) s
    ), written AS (
      INSERT INTO flow_task_statuses (id, organization_id, flow_execution_id, task_name, status, created_at)
      SELECT p.id, $1, p.run_id, p.task_name, p.status, clock_timestamp()
        FROM planned p
       ORDER BY p.n, p.k
      RETURNING id, created_at
    )
    SELECT item.n, run.organization_id AS run_organization_id, run.status AS run_status, run.flow_version AS run_flow_version,
           CASE WHEN run.accepted THEN NULL ELSE run.task_names END AS run_task_names,
           p.id, p.run_id AS flow_execution_id, p.task_name, p.status, w.created_at, CASE WHEN p.id IS NOT NULL THEN $1::uuid END AS organization_id
      FROM item
      LEFT JOIN run ON run.n = item.n
      LEFT JOIN planned p ON p.n = item.n
      LEFT JOIN written w ON w.id = p.id
     ORDER BY item.n, p.k`,
};

/** The most reports one statement carries. */
const REPORT_MANY_ITEMS = 64;
/** The most bytes of their task names and statuses (the request bodies' limit bounds each). */
const REPORT_MANY_BYTES = 1 << 20;

/**
 * REPORT with a status change of the run (a task awaiting input), still one statement: when the
 * report is accepted, change_flow_execution_status makes the change the lifecycle handed over
 * ($5..$9: the cause's rule, the statuses holding a slot, who, why, the default limit), and the
 * statuses are recorded only if the run was still there under its lock.
 */
const REPORT_CHANGING = {
  name: 'report_task_statuses_changing',
  text: `WITH run AS (
      SELECT fe.organization_id, fe.status, fe.flow_version, v.task_names,
             fe.organization_id = $2 AND fe.status <> 'deleted' AND $3::text[] <@ v.task_names AS accepted
        FROM flow_executions fe JOIN flow_versions v ON v.flow_id = fe.flow_id AND v.version = fe.flow_version
       WHERE fe.id = $1
    ), changed AS (
      SELECT c.outcome, c.previous_status, c.refused_to, (c.fe).id, (c.fe).organization_id, (c.fe).status
        FROM run CROSS JOIN LATERAL change_flow_execution_status($2, $1, $5, NULL, NULL, $6, $7, $8, $9) c
       WHERE run.accepted
    ), written AS (
      INSERT INTO flow_task_statuses (organization_id, flow_execution_id, task_name, status, created_at)
      SELECT $2, $1, item.task_name, item.status, clock_timestamp()
        FROM run, unnest($3::text[], $4::text[]) WITH ORDINALITY AS item (task_name, status, n)
       WHERE run.accepted AND EXISTS (SELECT 1 FROM changed WHERE changed.outcome <> 'inaccessible')
       ORDER BY item.n
      RETURNING id, flow_execution_id, task_name, status, created_at, organization_id
    )
    SELECT run.organization_id AS run_organization_id, run.status AS run_status, run.flow_version AS run_flow_version,
           CASE WHEN run.accepted THEN NULL ELSE run.task_names END AS run_task_names,
           (SELECT json_agg(changed) FROM changed) AS run_changes, written.*
      FROM run LEFT JOIN written ON true`,
};

/** The run's change a report makes (the parameters ExecutionLifecycle.statusChange gives; the run, organization and caller are the report's). */
export interface ReportChange {
  rule: object;
  active: readonly string[];
  modifiedBy: string;
  reason: string;
  defaultLimit: number;
}

/** What change_flow_execution_status answered, as REPORT_CHANGING returns it (the run's id, organization and status only). */
export interface ReportChangeRow {
  outcome: string;
  previous_status: ExecutionStatus | null;
  refused_to: ExecutionStatus | null;
  id: string | null;
  organization_id: string | null;
  status: ExecutionStatus | null;
}

/** A report's row as REPORT answers it: a status written, with its run's. */
type ReportRow = FlowTaskStatusRow & {
  run_organization_id: string;
  run_status: ExecutionStatus;
  run_flow_version: number;
  run_task_names: string[] | null;
  run_changes?: ReportChangeRow[] | null;
};

/** A report without a status change, waiting for its statement. */
interface PendingReport {
  runId: string;
  taskNames: string[];
  statuses: string[];
  bytes: number;
}

/** What a task report found: the run (undefined when there is none), its task names when it refused them, and the rows written. */
export interface Report {
  run?: { organization_id: string; status: ExecutionStatus; flow_version: number; task_names: string[] | null };
  rows: FlowTaskStatusRow[];
  /** With a change: what it did (empty when the report was refused). */
  changes: ReportChangeRow[];
}

/** Estimated JSON a page may carry; past it the page ends early (the `Link` continues it). */
export const PAGE_BYTES = 2 * 1024 * 1024;
// A task execution's JSON: its stored JSON values, about 600 bytes of fields, its run's trace context, about 350 bytes per active tag.
const ROW_BYTES = `(600 + coalesce(octet_length(fe.tracestate), 0) + coalesce(pg_column_size(te.input), 0) + coalesce(pg_column_size(te.output), 0) + coalesce(pg_column_size(te.error), 0)
  + coalesce(pg_column_size(te.source_task_executions), 0)
  + 350 * (SELECT count(*) FROM task_execution_tags tg WHERE tg.flow_execution_id = te.flow_execution_id AND tg.task_name = te.task_name AND tg.status = 'active'))`;
/**
 * A listed task execution's fields, as toTaskExecutionResponse makes them and in its order (their
 * tags as toFlowTaskTagResponse makes them), for PostgreSQL to write the item's JSON: the event loop
 * then splices one text per row instead of parsing twenty columns and the tags' rows and serializing
 * them again (docs/api.md#event-loop-budget). JSON values are written as `::text` writes them.
 */
const TAG_FIELDS = `SELECT tg.id, tg.flow_execution_id, tg.task_name, tg.tag, tg.tag_type, tg.tag_metadata, tg.status,
  ${isoMillisText('tg.created_at')} AS created_at, ${isoMillisText('tg.updated_at')} AS updated_at, tg.modified_by, tg.organization_id`;
const ITEM_FIELDS = (includeCredits: string) => `SELECT te.id, te.flow_execution_id, te.task_execution_idx, te.task_name,
  ${isoMillisText('te.created_at')} AS created_at, ${isoMillisText('te.updated_at')} AS updated_at, te.modified_by, te.processing_status,
  te.edited_status, te.stale_status, te.input, te.output, te.error, te.organization_id, te.source_task_executions,
  ${isoMillisText('te.started_at')} AS started_at, ${isoMillisText('te.completed_at')} AS completed_at,
  (SELECT coalesce('[' || string_agg(row_to_json(tag_fields)::text, ',' ORDER BY tg.created_at, tg.id) || ']', '[]')::json
     FROM task_execution_tags tg CROSS JOIN LATERAL (${TAG_FIELDS}) tag_fields
    WHERE tg.organization_id = te.organization_id AND tg.flow_execution_id = te.flow_execution_id AND tg.task_name = te.task_name
      AND tg.status = 'active') AS tags,
  CASE WHEN ${includeCredits} THEN te.credits END AS credits, fe.traceparent, fe.tracestate`;
const TAG_COLUMNS = `id, organization_id, flow_execution_id, task_name, tag_type, tag, tag_metadata, status, modified_by, created_at, updated_at`;
const JSON_COLUMNS = new Set(['input', 'output', 'error', 'source_task_executions']);
const SETTABLE = new Set([...JSON_COLUMNS, 'processing_status', 'edited_status', 'started_at', 'completed_at', 'credits']);

/** The columns a report may set; `undefined` leaves a column as it is. */
export interface TaskExecutionChanges {
  processing_status?: string;
  edited_status?: string;
  input?: unknown;
  output?: unknown;
  error?: unknown;
  source_task_executions?: unknown;
  started_at?: string | null;
  completed_at?: string | null;
  credits?: number | null;
}

export interface TaskKey {
  flowExecutionId: string;
  taskName: string;
  taskExecutionIdx: number;
}

export interface ListFilter {
  organizationId: string;
  flowExecutionId?: string;
  taskName?: string;
  taskExecutionIdx?: number;
  /** Keyset cursor: rows after this task execution, newest first. */
  after?: string;
  /** Rows wanted; one more is read, to tell whether more exist. */
  limit: number;
  /** `credits` as stored; null without. */
  includeCredits: boolean;
}

/** A page of task executions: their JSON as the list answers it (TaskExecutionWithTagsResponseDto[]), written by PostgreSQL, how many, and the last one's id. */
export interface ListedTaskPage {
  json: Bytes;
  count: number;
  lastId: string | null;
}

export const TASK_TIMEOUT_KINDS = ['heartbeat_timeout', 'task_timeout'] as const;
export type TaskTimeoutKind = (typeof TASK_TIMEOUT_KINDS)[number];
export type TimedOutTask = TaskExecutionRow & { kind: TaskTimeoutKind };
const TIMEOUT_MESSAGES: Record<TaskTimeoutKind, string> = {
  heartbeat_timeout: 'No heartbeat or report within the task heartbeat timeout',
  task_timeout: 'The task ran longer than its task timeout',
};

/** With its run's status and trace context. */
export type LocatedTaskExecution = TaskExecutionRow & RunTrace & { parent_status: string };
export type LockedTaskExecution = Pick<TaskExecutionRow, 'id' | 'processing_status'> & { output_changed: boolean };

/**
 * Hand-written SQL: raw rows are the entities (property names are column names). JSON values go
 * in as text cast to jsonb, since node-postgres would send a JS array as a Postgres array; a JSON
 * `null` is stored as SQL NULL.
 */
@Injectable()
export class TaskExecutionsRepository {
  /** Reports of one organization handed over while one of its is in flight go together (`report`). */
  private readonly reports: KeyedBatches<PendingReport, ReportRow[]>;

  constructor(
    private readonly dataSource: DataSource,
    @Optional() metrics?: MetricsService,
  ) {
    this.reports = new KeyedBatches((items, organizationId) => this.reportMany(organizationId, items), {
      maxItems: REPORT_MANY_ITEMS,
      bytes: { max: REPORT_MANY_BYTES, size: (item) => item.bytes },
      sent: (n) => metrics?.writesSent('task_report', n),
    });
  }

  /** Raises the unique violation of task_executions_task_uq on a duplicate key. */
  @GenerateSql({
    params: [
      DummyValue.MANAGER,
      DummyValue.UUID,
      { flowExecutionId: DummyValue.UUID2, taskName: 'extract', taskExecutionIdx: 0 },
      { processing_status: 'running', input: { file: 'a.pdf' }, started_at: DummyValue.TIMESTAMP },
      'sample',
    ],
  })
  async insert(m: EntityManager, organizationId: string, key: TaskKey, changes: TaskExecutionChanges, modifiedBy: string): Promise<TaskExecutionRow> {
    const columns = ['organization_id', 'flow_execution_id', 'task_name', 'task_execution_idx', 'modified_by'];
    const params: unknown[] = [organizationId, key.flowExecutionId, key.taskName, key.taskExecutionIdx, modifiedBy];
    const values = columns.map((_, i) => `$${i + 1}`);
    for (const [column, value] of settable(changes)) {
      columns.push(column);
      values.push(placeholder(column, params.push(toParam(column, value))));
    }
    const rows: TaskExecutionRow[] = await m.query(
      `INSERT INTO task_executions AS te (${columns.join(', ')}, created_at, updated_at)
       VALUES (${values.join(', ')}, clock_timestamp(), clock_timestamp())
       RETURNING ${COLUMNS}`,
      params,
    );
    return rows[0];
  }

  /** The task execution and its parent's status, in any organization: the caller decides 404 versus 403. JSON columns as text. */
  @GenerateSql({ params: [DummyValue.UUID] })
  async findById(id: string): Promise<LocatedTaskExecution | undefined> {
    const rows: LocatedTaskExecution[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, fe.status AS parent_status, fe.traceparent, fe.tracestate
         FROM task_executions te JOIN flow_executions fe ON fe.id = te.flow_execution_id
        WHERE te.id = $1`,
      [id],
    );
    return rows[0];
  }

  /**
   * A heartbeat, in one statement: the task and its run as they stand, and, when the task is the
   * caller's organization's and unfinished, its heartbeat written (the timeout_at trigger moves its
   * due time). `beaten` false with an unfinished status read means the task finished meanwhile.
   * Undefined when there is no such task.
   */
  @GenerateSql(
    { params: [DummyValue.UUID, DummyValue.UUID2, { step: 3, of: 10 }] },
    { name: 'without details', params: [DummyValue.UUID, DummyValue.UUID2, undefined] },
  )
  async heartbeat(id: string, organizationId: string, details: unknown): Promise<HeartbeatRow | undefined> {
    const params = [id, organizationId, details === undefined || details === null ? null : JSON.stringify(details), details !== undefined];
    return (await driverQuery<HeartbeatRow>(this.dataSource, HEARTBEAT, params)).rows[0];
  }

  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async reload(m: EntityManager, id: string): Promise<TaskExecutionRow> {
    const rows: TaskExecutionRow[] = await m.query(`SELECT ${COLUMNS} FROM task_executions te WHERE te.id = $1`, [id]);
    return rows[0];
  }

  /** Locks the (not deleted) task execution and says whether `output` (when given) differs from the stored one. */
  @GenerateSql({
    params: [DummyValue.MANAGER, DummyValue.UUID, { flowExecutionId: DummyValue.UUID2, taskName: 'extract', taskExecutionIdx: 0 }, { text: 'done' }],
  })
  async lockByKey(m: EntityManager, organizationId: string, key: TaskKey, output: unknown): Promise<LockedTaskExecution | undefined> {
    const rows: LockedTaskExecution[] = await m.query(
      `SELECT te.id, te.processing_status, te.output IS DISTINCT FROM $5::jsonb AS output_changed
         FROM task_executions te
        WHERE te.flow_execution_id = $1 AND te.task_name = $2 AND te.task_execution_idx = $3 AND te.organization_id = $4
          AND te.processing_status <> 'deleted'
        FOR UPDATE`,
      [key.flowExecutionId, key.taskName, key.taskExecutionIdx, organizationId, toParam('output', output ?? null)],
    );
    return rows[0];
  }

  @GenerateSql({
    params: [
      DummyValue.MANAGER,
      DummyValue.UUID,
      { processing_status: 'completed', output: { text: 'done' }, completed_at: DummyValue.TIMESTAMP, credits: 3 },
      'sample',
    ],
  })
  async update(m: EntityManager, id: string, changes: TaskExecutionChanges, modifiedBy: string): Promise<TaskExecutionRow> {
    const params: unknown[] = [id, modifiedBy];
    const sets = ['modified_by = $2', "updated_at = GREATEST(clock_timestamp(), te.updated_at + interval '1 microsecond')"];
    for (const [column, value] of settable(changes)) {
      sets.push(`${column} = ${placeholder(column, params.push(toParam(column, value)))}`);
    }
    const [rows]: [TaskExecutionRow[]] = await m.query(`UPDATE task_executions te SET ${sets.join(', ')} WHERE te.id = $1 RETURNING ${COLUMNS}`, params);
    return rows[0];
  }

  /** Marks the latest attempt of each named task stale (their inputs came from an edited output). */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, ['load', 'notify']] })
  async markLatestStale(m: EntityManager, flowExecutionId: string, taskNames: string[]): Promise<TaskExecutionRow[]> {
    const [rows]: [TaskExecutionRow[]] = await m.query(
      `UPDATE task_executions te
          SET stale_status = 'stale', updated_at = GREATEST(clock_timestamp(), te.updated_at + interval '1 microsecond')
        WHERE te.flow_execution_id = $1 AND te.task_name = ANY($2::text[]) AND te.processing_status <> 'deleted'
          AND te.task_execution_idx = (
            SELECT max(x.task_execution_idx) FROM task_executions x
             WHERE x.flow_execution_id = te.flow_execution_id AND x.task_name = te.task_name AND x.processing_status <> 'deleted')
       RETURNING ${COLUMNS}`,
      [flowExecutionId, taskNames],
    );
    return rows;
  }

  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async hasStale(m: EntityManager, flowExecutionId: string): Promise<boolean> {
    const rows: { stale: boolean }[] = await m.query(
      `SELECT EXISTS (SELECT 1 FROM task_executions WHERE flow_execution_id = $1 AND stale_status = 'stale' AND processing_status <> 'deleted') AS stale`,
      [flowExecutionId],
    );
    return rows[0].stale;
  }

  /** Adds the tags (reviving soft-deleted ones); with `replace`, the task's other active tags are soft-deleted. */
  @GenerateSql({
    name: 'replace',
    params: [DummyValue.MANAGER, DummyValue.UUID, DummyValue.UUID2, 'extract', [{ tag_type: 'customer', tag: 'acme' }], 'sample', true],
  })
  async saveTags(
    m: EntityManager,
    organizationId: string,
    flowExecutionId: string,
    taskName: string,
    tags: ParsedTag[],
    modifiedBy: string,
    replace: boolean,
  ): Promise<void> {
    const types = tags.map((t) => t.tag_type);
    const values = tags.map((t) => t.tag);
    if (replace) {
      await m.query(
        `UPDATE task_execution_tags
            SET status = 'deleted', modified_by = $6, updated_at = clock_timestamp()
          WHERE flow_execution_id = $1 AND task_name = $2 AND organization_id = $3 AND status = 'active'
            AND (tag_type, tag) NOT IN (SELECT * FROM unnest($4::text[], $5::text[]))`,
        [flowExecutionId, taskName, organizationId, types, values, modifiedBy],
      );
    }
    if (tags.length === 0) return;
    await m.query(
      `INSERT INTO task_execution_tags AS t (organization_id, flow_execution_id, flow_id, execution_deleted, task_name, tag_type, tag, modified_by,
                                             created_at, updated_at)
       SELECT $1, $2, fe.flow_id, fe.status = 'deleted', $3, item.tag_type, item.tag, $6, clock_timestamp(), clock_timestamp()
         FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS item (tag_type, tag, n)
         JOIN flow_executions fe ON fe.id = $2
        ORDER BY item.n
       ON CONFLICT ON CONSTRAINT task_execution_tags_uq
       DO UPDATE SET status = 'active', modified_by = EXCLUDED.modified_by, updated_at = clock_timestamp()
        WHERE t.status <> 'active'`,
      [organizationId, flowExecutionId, taskName, types, values, modifiedBy],
    );
    // Tags add up over POSTs of several attempts: the bound holds for the task's active tags, not one request's.
    const [{ n }]: { n: number }[] = await m.query(
      `SELECT count(*)::int AS n FROM task_execution_tags WHERE flow_execution_id = $1 AND task_name = $2 AND status = 'active'`,
      [flowExecutionId, taskName],
    );
    if (n > MAX_TASK_TAGS) {
      throw new RequestValidationError([
        { loc: ['body', 'tags'], msg: `a task may carry at most ${MAX_TASK_TAGS} active tags; this would make ${n}`, type: 'too_many_tags', input: null },
      ]);
    }
  }

  /** Active tags of the given (flow execution, task) pairs, oldest first. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID, [{ flow_execution_id: DummyValue.UUID2, task_name: 'extract' }]] })
  async activeTags(
    m: EntityManager | DataSource,
    organizationId: string,
    pairs: { flow_execution_id: string; task_name: string }[],
  ): Promise<TaskExecutionTagEntity[]> {
    if (pairs.length === 0) return [];
    return m.query(
      `SELECT ${TAG_COLUMNS} FROM task_execution_tags
        WHERE organization_id = $1 AND status = 'active'
          AND (flow_execution_id, task_name) IN (SELECT * FROM unnest($2::uuid[], $3::text[]))
        ORDER BY created_at, id`,
      [organizationId, pairs.map((p) => p.flow_execution_id), pairs.map((p) => p.task_name)],
    );
  }

  /**
   * A worker's batch of task statuses for a run of the organization (see REPORT), on the driver's
   * pool: one round trip, with the run's status change when the lifecycle hands one (REPORT_CHANGING).
   */
  @GenerateSql(
    {
      params: [
        DummyValue.UUID,
        DummyValue.UUID2,
        [
          { task_name: 'extract', status: 'running' },
          { task_name: 'load', status: 'queued' },
        ],
      ],
    },
    {
      name: 'a task awaiting input',
      params: [
        DummyValue.UUID,
        DummyValue.UUID2,
        [{ task_name: 'review', status: 'awaiting_input' }],
        {
          rule: { moves: [{ from: ['running'], to: 'awaiting_input' }], otherwise: 'ignore' },
          active: ['running', 'awaiting_input', 'cancel_requested'],
          modifiedBy: 'sample',
          reason: 'task_awaiting_input',
          defaultLimit: 10,
        },
      ],
    },
  )
  async report(
    organizationId: string,
    flowExecutionId: string,
    items: { task_name: string; status: string }[],
    change: ReportChange | null = null,
  ): Promise<Report> {
    const taskNames = items.map((i) => i.task_name);
    const statuses = items.map((i) => i.status);
    let rows: ReportRow[];
    if (change) {
      const params = [flowExecutionId, organizationId, taskNames, statuses, change.rule, change.active, change.modifiedBy, change.reason, change.defaultLimit];
      rows = (await driverQuery<ReportRow>(this.dataSource, REPORT_CHANGING, params)).rows;
    } else {
      const bytes = taskNames.reduce((sum, name, i) => sum + name.length + statuses[i].length, 0);
      rows = await this.reports.add(organizationId, { runId: flowExecutionId, taskNames, statuses, bytes });
    }
    if (rows.length === 0) return { rows: [], changes: [] };
    const [head] = rows;
    const run = { organization_id: head.run_organization_id, status: head.run_status, flow_version: head.run_flow_version, task_names: head.run_task_names };
    const changes = head.run_changes ?? [];
    if (head.id === null) return { run, rows: [], changes };
    return {
      run,
      changes,
      rows: rows.map((r) => ({
        id: r.id,
        flow_execution_id: r.flow_execution_id,
        task_name: r.task_name,
        status: r.status,
        created_at: r.created_at,
        organization_id: r.organization_id,
      })),
    };
  }

  /**
   * Reports of one organization handed over together (`reports`): REPORT for one, REPORT_MANY for
   * several, each report's rows as REPORT answers them (none when its run does not exist).
   */
  @GenerateSql({
    params: [
      DummyValue.UUID,
      [
        { runId: DummyValue.UUID2, taskNames: ['extract', 'load'], statuses: ['running', 'queued'], bytes: 26 },
        { runId: DummyValue.UUID2, taskNames: ['extract'], statuses: ['completed'], bytes: 16 },
      ],
    ],
  })
  async reportMany(organizationId: string, items: PendingReport[]): Promise<ReportRow[][]> {
    if (items.length === 1) {
      const [{ runId, taskNames, statuses }] = items;
      return [(await driverQuery<ReportRow>(this.dataSource, REPORT, [runId, organizationId, taskNames, statuses])).rows];
    }
    const json = JSON.stringify(items.map(({ runId, taskNames, statuses }) => ({ run_id: runId, task_names: taskNames, statuses })));
    const { rows } = await driverQuery<ReportRow & { n: string }>(this.dataSource, REPORT_MANY, [organizationId, json]);
    const byItem: ReportRow[][] = items.map(() => []);
    for (const { n, ...row } of rows) {
      // An item whose run does not exist answers one row of nulls: as REPORT, no row.
      if (row.run_organization_id !== null) byItem[Number(n) - 1].push(row);
    }
    return byItem;
  }

  /** A batch of task status reports as history rows, in the order given, in one statement. */
  @GenerateSql({
    params: [
      DummyValue.MANAGER,
      { id: DummyValue.UUID, organization_id: DummyValue.UUID2 },
      [
        { task_name: 'extract', status: 'running' },
        { task_name: 'load', status: 'queued' },
      ],
    ],
  })
  async insertTaskStatuses(m: EntityManager, execution: FlowExecutionRow, items: { task_name: string; status: string }[]): Promise<FlowTaskStatusRow[]> {
    return m.query(
      `INSERT INTO flow_task_statuses (organization_id, flow_execution_id, task_name, status, created_at)
       SELECT $1, $2, item.task_name, item.status, clock_timestamp()
         FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS item (task_name, status, n)
        ORDER BY item.n
       RETURNING id, flow_execution_id, task_name, status, created_at, organization_id`,
      [execution.organization_id, execution.id, items.map((i) => i.task_name), items.map((i) => i.status)],
    );
  }

  /**
   * Newest first, `limit + 1` rows at most, after the cursor when given, in one statement;
   * `cursorFound` is false when the cursor names no task execution of the organization. The page
   * also ends where the rows' estimated JSON (stored sizes, tags) passes PAGE_BYTES, after at least
   * one row: only the rows sent are read in full. `more` says whether rows were left out.
   */
  @GenerateSql(
    { name: 'organization', params: [{ organizationId: DummyValue.UUID, limit: 100, includeCredits: false }] },
    {
      name: 'one task of an execution, after a cursor',
      params: [
        {
          organizationId: DummyValue.UUID,
          flowExecutionId: DummyValue.UUID2,
          taskName: 'extract',
          taskExecutionIdx: 0,
          after: DummyValue.UUID2,
          limit: 100,
          includeCredits: true,
        },
      ],
    },
  )
  async list(f: ListFilter): Promise<{ cursorFound: boolean; page: ListedTaskPage; more: boolean }> {
    const params: unknown[] = [f.organizationId];
    const p = (value: unknown) => `$${params.push(value)}`;
    const where = [`te.organization_id = $1`, `fe.status <> 'deleted'`, `te.processing_status <> 'deleted'`];
    if (f.flowExecutionId !== undefined) where.push(`te.flow_execution_id = ${p(f.flowExecutionId)}`);
    if (f.taskName !== undefined) where.push(`te.task_name = ${p(f.taskName)}`);
    if (f.taskExecutionIdx !== undefined) where.push(`te.task_execution_idx = ${p(f.taskExecutionIdx)}`);
    const cursor = f.after === undefined ? null : p(f.after);
    if (cursor) where.push(`(te.created_at, te.id) < (c.created_at, c.id)`);
    // The page as one row: its items joined into one JSON array by PostgreSQL, so that the process
    // receives one value (not a row object and a string per item, kept alive until sent), read as
    // the bytes it is sent as (copyPage); the small fields beside it as one JSON object.
    const sql = `SELECT json_build_object(
                'cursor_found', ${cursor ? 'bool_or(c.id IS NOT NULL)' : 'true'}, 'fetched', max(page.fetched), 'count', count(page.id)::int,
                'last_id', (array_agg(page.id ORDER BY page.created_at, page.id))[1]
              ) AS head,
              '[' || COALESCE(string_agg(page.json, ',' ORDER BY page.created_at DESC, page.id DESC), '') || ']' AS body
         FROM (SELECT 1) one
         ${cursor ? `LEFT JOIN task_executions c ON c.id = ${cursor} AND c.organization_id = $1` : ''}
         LEFT JOIN LATERAL (
           SELECT sized.id, sized.created_at, sized.fetched, row_to_json(item)::text AS json FROM (
             SELECT w.*, sum(w.bytes) OVER (ORDER BY w.created_at DESC, w.id DESC ROWS UNBOUNDED PRECEDING) - w.bytes AS bytes_before,
                    row_number() OVER (ORDER BY w.created_at DESC, w.id DESC) AS n, count(*) OVER () AS fetched
               FROM (
                 SELECT te.id, te.created_at, ${ROW_BYTES} AS bytes
                   FROM task_executions te JOIN flow_executions fe ON fe.id = te.flow_execution_id
                  WHERE ${where.join(' AND ')}
                  ORDER BY te.created_at DESC, te.id DESC
                  LIMIT ${p(f.limit + 1)}
               ) w
           ) sized
           -- Each row sent read by its key (OFFSET 0 keeps it a nested loop): as a join, a page
           -- estimated at a third of its rows (the byte budget's filter) is hashed against the whole table.
           CROSS JOIN LATERAL (SELECT * FROM task_executions t WHERE t.id = sized.id OFFSET 0) te
           JOIN flow_executions fe ON fe.id = te.flow_execution_id
           CROSS JOIN LATERAL (${ITEM_FIELDS(p(f.includeCredits))}) item
           WHERE sized.bytes_before < ${p(PAGE_BYTES)} AND sized.n <= ${p(f.limit)}
         ) page ON true`;
    // One row always: the page hangs off `(SELECT 1) one`.
    const { head, body } = (await copyPage<{ cursor_found: boolean; fetched: number | null; count: number; last_id: string | null }>(
      this.dataSource,
      sql,
      params,
    ))!;
    // Fewer than fetched (the limit and one more): the limit, or the byte budget, ended the page.
    return { cursorFound: head.cursor_found, page: { json: body, count: head.count, lastId: head.last_id }, more: head.count < Number(head.fetched ?? 0) };
  }

  /** Runs with a running task whose timeout is due, soonest first, from task_executions_timeout_idx (`now()`: the index needs a stable bound). */
  @GenerateSql({ params: [100] })
  async findDueRuns(limit: number): Promise<{ organization_id: string; id: string }[]> {
    return this.dataSource.query(
      `SELECT te.organization_id, te.flow_execution_id AS id FROM task_executions te
        WHERE te.timeout_at <= now() ORDER BY te.timeout_at LIMIT $1`,
      [limit],
    );
  }

  /** Tasks whose timeout passed more than `graceMs` ago (at most `cap` counted). */
  @GenerateSql({ params: [1000, 100000] })
  async countOverdue(graceMs: number, cap: number): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM (
         SELECT 1 FROM task_executions te WHERE te.timeout_at <= now() - make_interval(secs => $1 / 1000.0) LIMIT $2
       ) overdue`,
      [graceMs, cap],
    );
    return rows[0].n;
  }

  /**
   * Fails the runs' running tasks whose timeout is due, skipping those another transaction holds
   * (a report in flight moves its due time): each times out once. The runs' locks are held.
   */
  @GenerateSql({ params: [DummyValue.MANAGER, [DummyValue.UUID, DummyValue.UUID2]] })
  async timeOutDue(m: EntityManager, flowExecutionIds: string[]): Promise<TimedOutTask[]> {
    const [rows]: [TimedOutTask[]] = await m.query(
      `WITH due AS (
         SELECT te.id, CASE WHEN te.running_deadline_at <= te.timeout_at THEN $2 ELSE $3 END AS kind
           FROM task_executions te
          WHERE te.flow_execution_id = ANY($1::uuid[]) AND te.processing_status = 'running' AND te.timeout_at <= clock_timestamp()
          ORDER BY te.id
          FOR UPDATE SKIP LOCKED
       )
       UPDATE task_executions te
          SET processing_status = 'failed', completed_at = clock_timestamp(), modified_by = 'liveness',
              updated_at = GREATEST(clock_timestamp(), te.updated_at + interval '1 microsecond'),
              error = jsonb_build_object('code', due.kind, 'message', CASE WHEN due.kind = $2 THEN $4 ELSE $5 END,
                                         'last_heartbeat_at', ${isoText('te.heartbeat_at')}, 'heartbeat_seconds', te.heartbeat_seconds,
                                         'deadline_at', ${isoText('te.running_deadline_at')})
         FROM due
        WHERE te.id = due.id
      RETURNING ${COLUMNS}, due.kind`,
      [flowExecutionIds, 'task_timeout', 'heartbeat_timeout', TIMEOUT_MESSAGES.task_timeout, TIMEOUT_MESSAGES.heartbeat_timeout],
    );
    return rows;
  }
}

/** The given columns; the names are interpolated into SQL, so anything outside the list is a bug. */
function settable(changes: TaskExecutionChanges): [string, unknown][] {
  return Object.entries(changes).filter(([column, value]) => {
    if (!SETTABLE.has(column)) throw new Error(`task_executions.${column} is not settable`);
    return value !== undefined;
  });
}

function toParam(column: string, value: unknown): unknown {
  if (!JSON_COLUMNS.has(column)) return value;
  // A large body's member stays the JSON text its worker made (docs/api.md#event-loop-budget).
  return value === null ? null : value instanceof RawJson ? value.text : JSON.stringify(value);
}

function placeholder(column: string, index: number): string {
  return JSON_COLUMNS.has(column) ? `$${index}::jsonb` : `$${index}`;
}
