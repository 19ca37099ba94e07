import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { RequestValidationError } from '../common/validation/validation-error';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import type { ExecutionStatus } from '../flow-executions/execution-status';
import { MAX_TASK_TAGS } from './task-tags';
import type { TaskExecutionTagEntity } from './task-execution-tag.entity';
import type { TaskExecutionRow } from './task-execution.entity';
import { COLUMNS } from './task-executions.repository';

/** A flow's tag list holds at most this many tags (the first in order). */
export const FLOW_TAGS_LIMIT = 1000;

// The expression of the task_execution_tags_flow_*label_idx indexes, written the same way so that they match.
const LABEL = `((t.tag_type || ':' || t.tag) COLLATE "C")`;
// Deleted executions' tags are out of the index already; this covers a delete racing a tag's insert.
const LIVE_EXECUTION = `EXISTS (SELECT 1 FROM flow_executions fe WHERE fe.id = t.flow_execution_id AND fe.status <> 'deleted')`;
const TAG_COLUMNS = `t.id, t.organization_id, t.flow_execution_id, t.task_name, t.tag_type, t.tag, t.tag_metadata, t.status,
  t.modified_by, t.created_at, t.updated_at`;
// Advisory lock namespace of task tags (two-key form, apart from any single-key use).
const TAG_LOCK_SPACE = 14;

export interface TagKey {
  flow_execution_id: string;
  task_name: string;
  tag_type: string;
  tag: string;
}

export type FlowTagsResult = { flow: 'missing' } | { flow: 'foreign' } | { flow: 'ok'; tags: string[] };

/** The execution as found (any organization: the caller decides 404 / 403) and, when it is the caller's, its tags. */
export interface TagListResult {
  execution: { organization_id: string; status: ExecutionStatus } | undefined;
  tags: TaskExecutionTagEntity[];
}

const TAG_SAMPLE: TagKey = { flow_execution_id: DummyValue.UUID, task_name: 'extract', tag_type: 'customer', tag: 'acme' };

export const tagKey = (k: TagKey) => JSON.stringify([k.flow_execution_id, k.task_name, k.tag_type, k.tag]);

const columns = (keys: TagKey[]) => [keys.map((k) => k.flow_execution_id), keys.map((k) => k.task_name), keys.map((k) => k.tag_type), keys.map((k) => k.tag)];

/** Hand-written SQL for task tags; each read is one round trip. */
@Injectable()
export class TaskTagsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The latest (not deleted) attempt of each (execution, task) that has one. */
  @GenerateSql({ params: [DummyValue.MANAGER, [{ flow_execution_id: DummyValue.UUID, task_name: 'extract' }]] })
  async latestAttempts(m: EntityManager, pairs: { flow_execution_id: string; task_name: string }[]): Promise<TaskExecutionRow[]> {
    return m.query(
      `SELECT DISTINCT ON (te.flow_execution_id, te.task_name) ${COLUMNS}
         FROM task_executions te
        WHERE (te.flow_execution_id, te.task_name) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))
          AND te.processing_status <> 'deleted'
        ORDER BY te.flow_execution_id, te.task_name, te.task_execution_idx DESC`,
      [pairs.map((p) => p.flow_execution_id), pairs.map((p) => p.task_name)],
    );
  }

  /** Serializes batches that touch the same tags, in one order, so that two batches never deadlock. */
  @GenerateSql({ params: [DummyValue.MANAGER, [TAG_SAMPLE]] })
  async lockTags(m: EntityManager, keys: TagKey[]): Promise<void> {
    await m.query(
      `SELECT pg_advisory_xact_lock(${TAG_LOCK_SPACE}, h)
         FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY 1) s`,
      [keys.map(tagKey)],
    );
  }

  /** Adds the tags (distinct keys); a removed one is revived with the new metadata. Answers the keys that changed. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID2, [{ ...TAG_SAMPLE, tag_metadata: { score: 1 } }], 'sample'] })
  async add(m: EntityManager, organizationId: string, items: (TagKey & { tag_metadata?: unknown })[], modifiedBy: string): Promise<Set<string>> {
    const metadata = items.map((i) => (i.tag_metadata === undefined || i.tag_metadata === null ? null : JSON.stringify(i.tag_metadata)));
    const rows: TagKey[] = await m.query(
      `INSERT INTO task_execution_tags AS t (organization_id, flow_execution_id, flow_id, execution_deleted, task_name, tag_type, tag, tag_metadata,
                                             modified_by, created_at, updated_at)
       SELECT $1, item.fe, fe.flow_id, fe.status = 'deleted', item.task_name, item.tag_type, item.tag, item.metadata::jsonb, $2, clock_timestamp(), clock_timestamp()
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS item (fe, task_name, tag_type, tag, metadata, n)
         JOIN flow_executions fe ON fe.id = item.fe
        ORDER BY item.n
       ON CONFLICT ON CONSTRAINT task_execution_tags_uq
       DO UPDATE SET status = 'active', tag_metadata = EXCLUDED.tag_metadata, modified_by = EXCLUDED.modified_by, updated_at = clock_timestamp()
        WHERE t.status <> 'active'
       RETURNING t.flow_execution_id, t.task_name, t.tag_type, t.tag`,
      [organizationId, modifiedBy, ...columns(items), metadata],
    );
    // The bound on a task's active tags holds whichever endpoint adds them (422, the batch rolled back).
    const [fe, tasks] = columns(items);
    const crowded: { n: number }[] = await m.query(
      `SELECT count(*)::int AS n FROM task_execution_tags t
        WHERE (t.flow_execution_id, t.task_name) IN (SELECT DISTINCT * FROM unnest($1::uuid[], $2::text[])) AND t.status = 'active'
        GROUP BY t.flow_execution_id, t.task_name HAVING count(*) > $3 LIMIT 1`,
      [fe, tasks, MAX_TASK_TAGS],
    );
    if (crowded.length > 0) {
      throw new RequestValidationError([
        {
          loc: ['body', 'tags'],
          msg: `a task may carry at most ${MAX_TASK_TAGS} active tags; this would make ${crowded[0].n}`,
          type: 'too_many_tags',
          input: null,
        },
      ]);
    }
    return new Set(rows.map(tagKey));
  }

  /** Soft-deletes the active tags among the keys (distinct); answers the keys that changed. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID2, [TAG_SAMPLE], 'sample'] })
  async remove(m: EntityManager, organizationId: string, keys: TagKey[], modifiedBy: string): Promise<Set<string>> {
    const [rows]: [TagKey[]] = await m.query(
      `UPDATE task_execution_tags t
          SET status = 'deleted', modified_by = $2, updated_at = clock_timestamp()
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) AS item (fe, task_name, tag_type, tag)
        WHERE t.flow_execution_id = item.fe AND t.task_name = item.task_name AND t.tag_type = item.tag_type AND t.tag = item.tag
          AND t.organization_id = $1 AND t.status = 'active'
       RETURNING t.flow_execution_id, t.task_name, t.tag_type, t.tag`,
      [organizationId, modifiedBy, ...columns(keys)],
    );
    return new Set(rows.map(tagKey));
  }

  /** The execution check and its active tags (oldest first) in one statement; a foreign execution's tags are never read. */
  @GenerateSql({ params: [DummyValue.UUID2, DummyValue.UUID, undefined] }, { name: 'one task', params: [DummyValue.UUID2, DummyValue.UUID, 'extract'] })
  async listForExecution(organizationId: string, flowExecutionId: string, taskName: string | undefined): Promise<TagListResult> {
    const rows: (TaskExecutionTagEntity & { execution_organization_id: string; execution_status: ExecutionStatus })[] = await this.dataSource.query(
      `SELECT fe.organization_id AS execution_organization_id, fe.status AS execution_status, ${TAG_COLUMNS}
         FROM flow_executions fe
         LEFT JOIN task_execution_tags t
           ON t.flow_execution_id = fe.id AND t.status = 'active' AND fe.organization_id = $2 AND ($3::text IS NULL OR t.task_name = $3)
        WHERE fe.id = $1
        ORDER BY t.created_at, t.id`,
      [flowExecutionId, organizationId, taskName ?? null],
    );
    const head = rows[0];
    if (!head) return { execution: undefined, tags: [] };
    const execution = { organization_id: head.execution_organization_id, status: head.execution_status };
    return { execution, tags: head.id === null ? [] : rows };
  }

  /**
   * The flow check and its distinct active tags in one statement. A skip scan on the flow's label
   * index (which leaves out deleted executions' tags): each step is one index descent to the next
   * label and one primary-key probe, so the cost grows with the number of distinct tags returned (at
   * most `limit`), not with the flow's size.
   */
  @GenerateSql({ params: [DummyValue.UUID2, DummyValue.UUID, undefined] }, { name: 'one task', params: [DummyValue.UUID2, DummyValue.UUID, 'extract'] })
  async flowTags(organizationId: string, flowId: string, taskName: string | undefined, limit = FLOW_TAGS_LIMIT): Promise<FlowTagsResult> {
    const params: unknown[] = [flowId, organizationId, limit];
    const task = taskName === undefined ? '' : `AND t.task_name = $${params.push(taskName)}`;
    const next = (after: string) =>
      `SELECT ${LABEL} AS label FROM task_execution_tags t
        WHERE t.flow_id = $1 AND t.status = 'active' AND NOT t.execution_deleted ${task} ${after} AND ${LIVE_EXECUTION}
        ORDER BY ${LABEL} LIMIT 1`;
    const rows: { organization_id: string; deleted: boolean; tags: string[] | null }[] = await this.dataSource.query(
      `WITH RECURSIVE walk (label, n) AS (
         (SELECT first.label, 1 FROM (${next('')}) first)
         UNION ALL
         SELECT step.label, walk.n + 1 FROM walk CROSS JOIN LATERAL (${next(`AND ${LABEL} > walk.label`)}) step
          WHERE walk.n < $3
       )
       SELECT f.organization_id, f.deleted,
              CASE WHEN f.organization_id = $2 AND NOT f.deleted THEN ARRAY(SELECT label FROM walk ORDER BY n) END AS tags
         FROM flows f WHERE f.id = $1`,
      params,
    );
    const flow = rows[0];
    if (!flow || flow.deleted) return { flow: 'missing' };
    if (flow.organization_id !== organizationId) return { flow: 'foreign' };
    return { flow: 'ok', tags: flow.tags ?? [] };
  }
}
