import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Bytes, copyQuery } from '../database/copy-query';
import { driverQuery } from '../database/driver-pool';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import { FlowVersionEntity } from './flow-version.entity';
import { FlowEntity } from './flow.entity';

export interface FlowWithVersion {
  flow: FlowEntity;
  version: FlowVersionEntity;
  /**
   * The version's definition as PostgreSQL's text, or as the bytes it sent (a COPY read): the
   * answer splices it as is, and `version.definition` parses it only when something reads it.
   */
  definitionText?: DefinitionText;
}

/** A definition as PostgreSQL rendered it: text, or its UTF-8 bytes as they arrived (never decoded). */
export type DefinitionText = string | Bytes;

/** The text of a DefinitionText (bytes decoded). */
export const definitionString = (text: DefinitionText): string => (typeof text === 'string' ? text : Buffer.concat(text).toString());

/** Characters (or bytes) of a DefinitionText. */
export const definitionLength = (text: DefinitionText): number => (typeof text === 'string' ? text.length : text.reduce((n, b) => n + b.length, 0));

/** A version, and its definition as PostgreSQL's text: the answer splices it, and `version.definition` parses it only when read. */
export interface VersionWithText {
  version: FlowVersionEntity;
  definitionText: DefinitionText;
}

/** A version's own fields, without its definition (a metadata change answers these). */
export type FlowVersionMeta = Pick<FlowVersionEntity, 'version' | 'name' | 'isFavourite' | 'createdAt' | 'updatedAt' | 'modifiedBy'>;

export interface FlowListFilter {
  organizationId: string;
  search?: string;
  tagsAny: string[][];
  tagsNone: string[][];
  sortField: 'created_at' | 'updated_at' | 'display_name';
  sortDirection: 'asc' | 'desc';
  offset: number;
  limit: number;
}

export type NewFlow = Pick<FlowEntity, 'organizationId' | 'displayName' | 'description' | 'visibility' | 'settings' | 'tags' | 'modifiedBy'>;
export type FlowChanges = Partial<Pick<FlowEntity, 'displayName' | 'description' | 'visibility' | 'settings' | 'status' | 'tags' | 'modifiedBy'>>;

export interface ExecutableFlowRow {
  id: string;
  organization_id: string;
  latest_version: number;
  definition: unknown;
}

const FIND_EXECUTABLE = {
  name: 'executable_flow_by_id',
  text: `SELECT f.id, f.organization_id, f.latest_version, v.definition
           FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.latest_version
          WHERE f.id = $1 AND NOT f.deleted`,
};

/** Estimated JSON a page of versions may carry; past it the page ends early, after at least one version. */
export const PAGE_BYTES = 4 * 1024 * 1024;

@Injectable()
export class FlowsRepository {
  constructor(
    @InjectRepository(FlowEntity) private readonly flows: Repository<FlowEntity>,
    @InjectRepository(FlowVersionEntity) private readonly versions: Repository<FlowVersionEntity>,
    private readonly dataSource: DataSource,
  ) {}

  /**
   * A live flow by id in any organization, with its latest version, in one query; the caller
   * compares the organization (403) and treats null as 404.
   */
  @GenerateSql({ params: [DummyValue.UUID] })
  async findWithLatest(id: string, manager?: EntityManager): Promise<FlowWithVersion | null> {
    const [row]: (FlowRow & VersionTextRow)[] = await (manager ?? this.dataSource).query(
      `SELECT ${FLOW_COLUMNS}, ${VERSION_COLUMNS_AS_TEXT}
         FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.latest_version
        WHERE f.id = $1 AND NOT f.deleted`,
      [id],
    );
    return row ? { flow: flowFromRow(row), version: versionFromTextRow(row, row.v_definition_text), definitionText: row.v_definition_text } : null;
  }

  /**
   * `findWithLatest` for an answer: the definition comes as the bytes PostgreSQL sent (COPY), so a
   * 1 MiB definition is neither assembled by the driver, decoded, nor encoded again (docs/api.md#event-loop-budget).
   */
  @GenerateSql({ params: [DummyValue.UUID] })
  async readWithLatest(id: string): Promise<FlowWithVersion | null> {
    const [row] = await copyQuery(
      this.dataSource,
      `SELECT row_to_json(head) AS head, v.definition
         FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.latest_version
         CROSS JOIN LATERAL (SELECT ${FLOW_COLUMNS}, ${VERSION_META_COLUMNS}) head
        WHERE f.id = $1 AND NOT f.deleted`,
      [id],
      ['head', 'definition'],
    );
    if (!row) return null;
    const head = headOf<FlowRow & VersionRow>(row.head!, LISTED_DATES);
    const definition = row.definition!;
    return { flow: flowFromRow(head), version: versionFromTextRow(head, definition), definitionText: definition };
  }

  /** A live flow by id in any organization, without its definition; the caller compares the organization (403) and treats null as 404. */
  @GenerateSql({ params: [DummyValue.UUID] })
  async findFlow(id: string, manager?: EntityManager): Promise<FlowEntity | null> {
    const [row]: FlowRow[] = await (manager ?? this.dataSource).query(`SELECT ${FLOW_COLUMNS} FROM flows f WHERE f.id = $1 AND NOT f.deleted`, [id]);
    return row ? flowFromRow(row) : null;
  }

  /**
   * What starting an execution needs, on the driver's pool as one prepared statement (the create
   * path runs it on every request; the ORM's query builder costs more than the query).
   */
  @GenerateSql({ params: [DummyValue.UUID] })
  async findExecutable(id: string): Promise<ExecutableFlowRow | undefined> {
    const result = await driverQuery<ExecutableFlowRow>(this.dataSource, FIND_EXECUTABLE, [id]);
    return result.rows[0];
  }

  /** A version's definition (versions never change once written). */
  @GenerateSql({ params: [DummyValue.UUID, 1] })
  async findDefinition(flowId: string, version: number, manager?: EntityManager): Promise<unknown> {
    const rows: { definition: unknown }[] = await (manager ?? this.dataSource).query(
      `SELECT definition FROM flow_versions WHERE flow_id = $1 AND version = $2`,
      [flowId, version],
    );
    return rows[0]?.definition;
  }

  /** The definitions of the given versions, in one statement. */
  @GenerateSql({
    params: [
      [
        { flowId: DummyValue.UUID, version: 1 },
        { flowId: DummyValue.UUID2, version: 2 },
      ],
    ],
  })
  async findDefinitions(
    versions: { flowId: string; version: number }[],
    manager?: EntityManager,
  ): Promise<{ flow_id: string; version: number; definition: unknown }[]> {
    return (manager ?? this.dataSource).query(
      `SELECT flow_id, version, definition FROM flow_versions
        WHERE (flow_id, version) IN (SELECT * FROM unnest($1::uuid[], $2::int[]))`,
      [versions.map((v) => v.flowId), versions.map((v) => v.version)],
    );
  }

  @GenerateSql(
    {
      name: 'first page',
      params: [{ organizationId: DummyValue.UUID, tagsAny: [], tagsNone: [], sortField: 'created_at', sortDirection: 'desc', offset: 0, limit: 50 }],
    },
    {
      name: 'search and tags, by name',
      params: [
        {
          organizationId: DummyValue.UUID,
          search: 'invoice',
          tagsAny: [['finance', 'ops']],
          tagsNone: [['archived']],
          sortField: 'display_name',
          sortDirection: 'asc',
          offset: 50,
          limit: 50,
        },
      ],
    },
  )
  async listPage(filter: FlowListFilter): Promise<{ rows: FlowWithVersion[]; total: number; truncated: boolean }> {
    const params: unknown[] = [filter.organizationId];
    const p = (value: unknown) => `$${params.push(value)}`;
    const where = ['f.organization_id = $1', 'NOT f.deleted'];
    if (filter.search) where.push(`f.display_name ILIKE ${p(`%${escapeLike(filter.search)}%`)} ESCAPE '\\'`);
    for (const tags of filter.tagsAny) where.push(`f.tags && ${p(tags)}::text[]`);
    for (const tags of filter.tagsNone) where.push(`NOT (f.tags && ${p(tags)}::text[])`);
    const direction = filter.sortDirection === 'asc' ? 'ASC' : 'DESC';
    const order = `f.${filter.sortField} ${direction}, f.id ${direction}`;
    const [limit, offset, budget] = [p(filter.limit), p(filter.offset), p(PAGE_BYTES)];
    // Plain SQL and a plain mapping: the ORM's hydration of a joined page cost more than its query.
    // Only the stored definition sizes are summed (toast pointers); the page ends early past
    // PAGE_BYTES, after at least one flow, and only the definitions sent are read in full. The
    // count and the page in one statement: one round trip (an empty page is one row of the count).
    // Each flow's columns come as one JSON object, its definition as the bytes PostgreSQL sent (COPY).
    const rows = await copyQuery(
      this.dataSource,
      `SELECT json_build_object('total', counted.total, 'n', listed.n, 'flow', listed.head) AS head, listed.definition
         FROM (SELECT count(*)::int AS total FROM flows f WHERE ${where.join(' AND ')}) counted
       LEFT JOIN LATERAL (
         SELECT row_to_json(h) AS head, v.definition, page.n FROM (
           SELECT w.id, w.version, count(*) OVER () AS fetched,
                  row_number() OVER (ORDER BY w.sort_key ${direction}, w.id ${direction}) AS n,
                  sum(w.bytes) OVER (ORDER BY w.sort_key ${direction}, w.id ${direction} ROWS UNBOUNDED PRECEDING) AS bytes
             FROM (
               SELECT f.id, f.${filter.sortField} AS sort_key, v.version, 500 + pg_column_size(v.definition) AS bytes
                 FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.latest_version
                WHERE ${where.join(' AND ')}
                ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}
             ) w
         ) page
         JOIN flows f ON f.id = page.id
         JOIN flow_versions v ON v.flow_id = page.id AND v.version = page.version
         CROSS JOIN LATERAL (SELECT ${FLOW_COLUMNS}, ${VERSION_META_COLUMNS}, page.fetched) h
         WHERE page.n = 1 OR page.bytes <= ${budget}
       ) listed ON true
       ORDER BY listed.n`,
      params,
      ['head', 'definition'],
    );
    // In page order (a COPY of an ordered subquery keeps it, but nothing promises that).
    const page = rows.map(({ head, definition }) => ({ head: headOf<ListedHead>(head!, []), definition })).sort((a, b) => (a.head.n ?? 0) - (b.head.n ?? 0));
    const listed: FlowWithVersion[] = [];
    for (const { head, definition } of page) {
      if (head.flow === null) continue;
      const row = withDates(head.flow, LISTED_DATES);
      listed.push({ flow: flowFromRow(row), version: versionFromTextRow(row, definition!), definitionText: definition! });
    }
    return { rows: listed, total: page[0].head.total, truncated: listed.length > 0 && listed.length < page[0].head.flow!.fetched };
  }

  /** Executions on the highest version of each flow that has any live execution (0 when none). */
  @GenerateSql({ params: [DummyValue.UUID, [DummyValue.UUID2]] })
  async latestVersionExecutionCounts(organizationId: string, flowIds: string[]): Promise<Map<string, number>> {
    const counts = new Map(flowIds.map((id) => [id, 0]));
    if (flowIds.length === 0) return counts;
    const rows: { flow_id: string; n: number }[] = await this.dataSource.query(
      `SELECT DISTINCT ON (flow_id) flow_id, count(*)::int AS n
         FROM flow_executions
        WHERE organization_id = $1 AND flow_id = ANY($2::uuid[]) AND status <> 'deleted'
        GROUP BY flow_id, flow_version
        ORDER BY flow_id, flow_version DESC`,
      [organizationId, flowIds],
    );
    for (const row of rows) counts.set(row.flow_id, row.n);
    return counts;
  }

  /** The flow and its version 1, in one transaction. */
  async create(values: NewFlow, definition: Record<string, unknown>): Promise<FlowWithVersion> {
    return this.dataSource.transaction(async (m) => {
      const { id } = await m.save(m.create(FlowEntity, { ...values, status: 'draft', latestVersion: 1 }));
      await m.insert(FlowVersionEntity, newVersion(id, 1, definition, values.modifiedBy));
      return (await this.findWithLatest(id, m))!;
    });
  }

  /**
   * Stores `definition` as version latest+1 under the flow's row lock, so concurrent calls get
   * consecutive, distinct versions. `check` sees the locked flow (without its definition) and may throw; null when the flow is gone.
   */
  async addVersion(
    organizationId: string,
    flowId: string,
    definition: Record<string, unknown>,
    modifiedBy: string,
    check: (current: FlowEntity | null) => FlowEntity,
  ): Promise<FlowWithVersion> {
    return this.dataSource.transaction(async (m) => {
      // Lock first, read after: a locking read joined on latest_version would drop the row once a concurrent update moved it.
      await m.createQueryBuilder(FlowEntity, 'f').select('f.id').where('f.id = :flowId', { flowId }).setLock('pessimistic_write').getOne();
      const flow = check(await this.findFlow(flowId, m));
      const version = flow.latestVersion + 1;
      await m.insert(FlowVersionEntity, newVersion(flowId, version, definition, modifiedBy));
      await m.update(FlowEntity, { id: flowId, organizationId }, { latestVersion: version, modifiedBy });
      return (await this.findWithLatest(flowId, m))!;
    });
  }

  /** Applies `changes` to a live flow of the organization; false when there is none. */
  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID2, { displayName: 'Invoices', tags: ['finance'], modifiedBy: 'sample' }] })
  async update(organizationId: string, id: string, changes: FlowChanges & { deleted?: true }): Promise<boolean> {
    const result = await this.flows.update({ id, organizationId, deleted: false }, changes as QueryDeepPartialEntity<FlowEntity>);
    return (result.affected ?? 0) > 0;
  }

  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID2, 'sample'] })
  async softDelete(organizationId: string, id: string, modifiedBy: string): Promise<boolean> {
    return this.update(organizationId, id, { deleted: true, modifiedBy });
  }

  /**
   * A page of a flow's versions, newest first, below `after`: at most `limit`, and ended early once
   * the definitions' stored sizes pass PAGE_BYTES (after at least one). The sizes are read first
   * (toast pointers only), then the versions that fit. `more`: versions are left below the page.
   */
  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID2, null, 100] }, { name: 'after a cursor', params: [DummyValue.UUID, DummyValue.UUID2, 7, 100] })
  async listVersions(organizationId: string, flowId: string, after: number | null, limit: number): Promise<{ versions: VersionWithText[]; more: boolean }> {
    const sizes: { version: number; bytes: string }[] = await this.dataSource.query(
      `SELECT v.version, 500 + pg_column_size(v.definition) AS bytes
         FROM flow_versions v JOIN flows f ON f.id = v.flow_id
        WHERE v.flow_id = $1 AND f.organization_id = $2 AND NOT f.deleted AND ($3::int IS NULL OR v.version < $3)
        ORDER BY v.version DESC
        LIMIT $4`,
      [flowId, organizationId, after, limit + 1],
    );
    let fit = 0;
    for (let bytes = 0; fit < Math.min(limit, sizes.length) && (fit === 0 || bytes + Number(sizes[fit].bytes) <= PAGE_BYTES); fit++) {
      bytes += Number(sizes[fit].bytes);
    }
    if (fit === 0) return { versions: [], more: false };
    const rows = await copyQuery(
      this.dataSource,
      `SELECT row_to_json(head) AS head, v.definition
         FROM flow_versions v JOIN flows f ON f.id = v.flow_id
         CROSS JOIN LATERAL (SELECT ${VERSION_META_COLUMNS}) head
        WHERE v.flow_id = $1 AND f.organization_id = $2 AND NOT f.deleted AND v.version BETWEEN $3 AND $4`,
      [flowId, organizationId, sizes[fit - 1].version, sizes[0].version],
      ['head', 'definition'],
    );
    const versions = rows.map((row) => versionWithText(headOf<VersionRow>(row.head!, VERSION_DATES), row.definition!));
    return { versions: versions.sort((a, b) => b.version.version - a.version.version), more: sizes.length > fit };
  }

  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID2, 1] })
  async findVersion(organizationId: string, flowId: string, version: number): Promise<VersionWithText | null> {
    const [row] = await copyQuery(
      this.dataSource,
      `SELECT row_to_json(head) AS head, v.definition
         FROM flow_versions v JOIN flows f ON f.id = v.flow_id
         CROSS JOIN LATERAL (SELECT ${VERSION_META_COLUMNS}) head
        WHERE v.flow_id = $1 AND f.organization_id = $2 AND NOT f.deleted AND v.version = $3`,
      [flowId, organizationId, version],
      ['head', 'definition'],
    );
    if (!row) return null;
    return versionWithText(headOf<VersionRow>(row.head!, VERSION_DATES), row.definition!);
  }

  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID2, 1, { name: 'v1', isFavourite: true, modifiedBy: 'sample' }] })
  async updateVersion(
    organizationId: string,
    flowId: string,
    version: number,
    changes: Partial<Pick<FlowVersionEntity, 'name' | 'isFavourite' | 'modifiedBy'>>,
  ): Promise<FlowVersionMeta | null> {
    const { raw } = await this.versions
      .createQueryBuilder()
      .update()
      .set(changes)
      .where('flow_id = :flowId AND version = :version', { flowId, version })
      .andWhere('flow_id IN (SELECT id FROM flows WHERE organization_id = :org AND NOT deleted)', { org: organizationId })
      .returning(['version', 'name', 'isFavourite', 'createdAt', 'updatedAt', 'modifiedBy'])
      .execute();
    const [row] = raw as { version: number; name: string | null; is_favourite: boolean; created_at: Date; updated_at: Date; modified_by: string }[];
    return row
      ? {
          version: row.version,
          name: row.name,
          isFavourite: row.is_favourite,
          createdAt: row.created_at,
          updatedAt: row.updated_at,
          modifiedBy: row.modified_by,
        }
      : null;
  }
}

// TypeORM's partial-entity type cannot express a jsonb column of arbitrary JSON.
function newVersion(flowId: string, version: number, definition: Record<string, unknown>, modifiedBy: string) {
  return { flowId, version, definition, modifiedBy } as QueryDeepPartialEntity<FlowVersionEntity>;
}

/** A flow's columns, as FLOW_COLUMNS selects them. */
interface FlowRow {
  id: string;
  organization_id: string;
  display_name: string;
  description: string | null;
  visibility: string | null;
  settings: Record<string, unknown> | null;
  status: FlowEntity['status'];
  tags: string[];
  latest_version: number;
  executions_count: number;
  last_execution_at: Date | null;
  deleted: boolean;
  created_at: Date;
  updated_at: Date;
  modified_by: string;
}

/** A version's columns but its definition, as VERSION_META_COLUMNS selects them (`v_`: the flow has its own timestamps and author). */
interface VersionRow {
  v_flow_id: string;
  v_version: number;
  v_name: string | null;
  v_is_favourite: boolean;
  v_created_at: Date;
  v_updated_at: Date;
  v_modified_by: string;
}

/** A row of a page of flows (listPage): the count, and the flow's and its latest version's columns (none on an empty page). */
interface ListedHead {
  total: number;
  n: number | null;
  flow: (FlowRow & VersionRow & { fetched: number }) | null;
}

/** A version's row with its definition as text (VERSION_COLUMNS_AS_TEXT), or as bytes (a COPY read). */
type VersionTextRow = VersionRow & { v_definition_text: DefinitionText };

const FLOW_COLUMNS = `f.id, f.organization_id, f.display_name, f.description, f.visibility, f.settings, f.status, f.tags, f.latest_version,
  f.executions_count, f.last_execution_at, f.deleted, f.created_at, f.updated_at, f.modified_by`;
const VERSION_META_COLUMNS = `v.flow_id AS v_flow_id, v.version AS v_version, v.name AS v_name,
  v.is_favourite AS v_is_favourite, v.created_at AS v_created_at, v.updated_at AS v_updated_at, v.modified_by AS v_modified_by`;
const FLOW_DATES = ['created_at', 'updated_at', 'last_execution_at'] as const;
const VERSION_DATES = ['v_created_at', 'v_updated_at'] as const;
// A flow joined with its version: both sets of timestamps.
const LISTED_DATES = [...FLOW_DATES, ...VERSION_DATES];

// Definitions as text: a 1 MiB definition, or a page's PAGE_BYTES of them, is neither parsed by the driver nor serialized again (docs/api.md#event-loop-budget).
const VERSION_COLUMNS_AS_TEXT = `${VERSION_META_COLUMNS}, v.definition::text AS v_definition_text`;

function flowFromRow(row: FlowRow): FlowEntity {
  return Object.assign(new FlowEntity(), {
    id: row.id,
    organizationId: row.organization_id,
    displayName: row.display_name,
    description: row.description,
    visibility: row.visibility,
    settings: row.settings,
    status: row.status,
    tags: row.tags,
    latestVersion: row.latest_version,
    executionsCount: row.executions_count,
    lastExecutionAt: row.last_execution_at,
    deleted: row.deleted,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    modifiedBy: row.modified_by,
  });
}

/** The version of a row of VERSION_META_COLUMNS: its `definition` parsed from `text` the first time something reads it. */
function versionFromTextRow(row: VersionRow, text: DefinitionText): FlowVersionEntity {
  const version = Object.assign(new FlowVersionEntity(), {
    flowId: row.v_flow_id,
    version: row.v_version,
    name: row.v_name,
    isFavourite: row.v_is_favourite,
    createdAt: row.v_created_at,
    updatedAt: row.v_updated_at,
    modifiedBy: row.v_modified_by,
  });
  let parsed: Record<string, unknown> | undefined;
  Object.defineProperty(version, 'definition', {
    enumerable: true,
    get: () => (parsed ??= JSON.parse(definitionString(text)) as Record<string, unknown>),
  });
  return version;
}

/** A COPY read's `head` (one JSON object of columns): its timestamps, JSON text there, as the Dates the driver gives. */
function headOf<T>(bytes: Bytes, dates: readonly string[]): T {
  const text = bytes.length === 1 ? bytes[0].toString() : Buffer.concat(bytes).toString();
  return withDates(JSON.parse(text) as T, dates);
}

/** `head` with its `dates` (ISO strings in JSON) as Dates. */
function withDates<T>(head: T, dates: readonly string[]): T {
  const fields = head as Record<string, unknown>;
  for (const key of dates) if (typeof fields[key] === 'string') fields[key] = new Date(fields[key]);
  return head;
}

function versionWithText(row: VersionRow, text: DefinitionText): VersionWithText {
  return { version: versionFromTextRow(row, text), definitionText: text };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
