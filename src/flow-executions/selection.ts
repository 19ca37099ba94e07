import type { ExecutionSelectionDto } from './dto/selection.dto';
import type { ExecutionStatus } from './execution-status';

/**
 * A selection of one flow's runs in an organization (docs/api.md#selections), parsed once from
 * its wire shape (`ExecutionSelectionDto`, in a query string or a JSON body) and turned into SQL
 * once (`selectionWhere`), for the list, the stats and bulk actions alike. Deleted runs are never selected.
 */
export interface Selection {
  flowId: string;
  organizationId: string;
  status?: ExecutionStatus[];
  statusExclude?: ExecutionStatus[];
  tags?: [string, string][];
  tagsExclude?: [string, string][];
  versions?: number[];
  runNumberMin?: number;
  runNumberMax?: number;
  createdAfter?: string;
  createdBefore?: string;
  updatedAfter?: string;
  updatedBefore?: string;
}

/** The one parser of the wire shape; the organization is always the caller's. */
export function parseSelection(organizationId: string, dto: ExecutionSelectionDto): Selection {
  return {
    flowId: dto.flow_id.toLowerCase(),
    organizationId,
    status: dto.status,
    statusExclude: dto.status_exclude,
    tags: dto.tags?.map(splitTag),
    tagsExclude: dto.tags_exclude?.map(splitTag),
    versions: dto.flow_version,
    runNumberMin: dto.run_number_min,
    runNumberMax: dto.run_number_max,
    createdAfter: dto.created_after,
    createdBefore: dto.created_before,
    updatedAfter: dto.updated_after,
    updatedBefore: dto.updated_before,
  };
}

/** The selection back in its wire shape, members that are set only (what a bulk action shows it was given). */
export function selectionToWire(s: Selection): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    flow_id: s.flowId,
    status: s.status,
    status_exclude: s.statusExclude,
    tags: s.tags?.map(joinTag),
    tags_exclude: s.tagsExclude?.map(joinTag),
    flow_version: s.versions,
    run_number_min: s.runNumberMin,
    run_number_max: s.runNumberMax,
    created_after: s.createdAfter,
    created_before: s.createdBefore,
    updated_after: s.updatedAfter,
    updated_before: s.updatedBefore,
  };
  return Object.fromEntries(Object.entries(wire).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)));
}

export interface SelectionSql {
  /** Conditions on `fe` (flow_executions), all to hold; the tags to carry (`tags`) are left to the caller's plan. */
  where: string[];
  /** Placeholders of the tags a run must carry one of, or null. */
  tags: [string, string][] | null;
}

/**
 * The selection's conditions on `fe`. The statement's `$1` must be the flow's id and `$2` the
 * organization's (the tag probes read `task_execution_tags_org_tag_idx` by organization); `p` adds a parameter.
 * `fe.flow_id = $1` first: the planner then walks the flow's indexes.
 */
export function selectionWhere(s: Selection, p: (value: unknown) => string, tagsBy: 'probe' | 'join' = 'probe'): SelectionSql {
  const where = [`fe.flow_id = $1`, `fe.status <> 'deleted'`];
  if (s.status?.length) where.push(`fe.status = ANY(${p(s.status)})`);
  if (s.statusExclude?.length) where.push(`fe.status <> ALL(${p(s.statusExclude)})`);
  if (s.versions?.length) where.push(`fe.flow_version = ANY(${p(s.versions)}::int[])`);
  if (s.runNumberMin !== undefined) where.push(`fe.run_number >= ${p(s.runNumberMin)}::int`);
  if (s.runNumberMax !== undefined) where.push(`fe.run_number <= ${p(s.runNumberMax)}::int`);
  if (s.createdAfter) where.push(`fe.created_at >= ${p(s.createdAfter)}`);
  if (s.createdBefore) where.push(`fe.created_at <= ${p(s.createdBefore)}`);
  if (s.updatedAfter) where.push(`fe.updated_at >= ${p(s.updatedAfter)}`);
  if (s.updatedBefore) where.push(`fe.updated_at <= ${p(s.updatedBefore)}`);
  const tags = s.tags?.length ? tagPairs(s.tags, p) : null;
  if (s.tagsExclude?.length) where.push(`NOT ${(tagsBy === 'probe' ? hasTag : anyTag)(tagPairs(s.tagsExclude, p))}`);
  return { where, tags };
}

/**
 * For statements that read every selected run (stats, a bulk action's matched set): the tags as
 * joins the planner hashes (`tagsBy: 'join'`), not a probe per row whose cost estimate alone
 * would wake the JIT compiler on a large flow.
 */
export function anyTag(pairs: [string, string][]): string {
  const one = ([type, tag]: [string, string]) => `(t.tag_type = ${type} AND t.tag = ${tag})`;
  return `EXISTS (SELECT 1 FROM task_execution_tags t WHERE t.organization_id = $2 AND t.flow_execution_id = fe.id AND t.status = 'active'
                    AND (${pairs.map(one).join(' OR ')}))`;
}

/** The executions carrying the tag in the organization: one range of task_execution_tags_org_tag_idx. */
export function taggedWith([type, tag]: [string, string]): string {
  return `(SELECT t.flow_execution_id AS id FROM task_execution_tags t
            WHERE t.organization_id = $2 AND t.tag_type = ${type} AND t.tag = ${tag} AND t.status = 'active')`;
}

/** The tags as pairs of placeholders. */
function tagPairs(tags: [string, string][], p: (value: unknown) => string): [string, string][] {
  return tags.map(([type, tag]) => [p(type), p(tag)]);
}

/**
 * Whether the execution carries any of the tags: one index-only probe of task_execution_tags_org_tag_idx
 * per tag. `OFFSET 0` keeps each probe per row: as a semi or anti join the planner would hash every
 * tagged row of the organization before returning the first execution.
 */
export function hasTag(pairs: [string, string][]): string {
  const probe = ([type, tag]: [string, string]) =>
    `EXISTS (SELECT 1 FROM task_execution_tags t WHERE t.organization_id = $2 AND t.tag_type = ${type} AND t.tag = ${tag}
                AND t.flow_execution_id = fe.id AND t.status = 'active' OFFSET 0)`;
  return `(${pairs.map(probe).join(' OR ')})`;
}

function splitTag(tag: string): [string, string] {
  const at = tag.indexOf(':');
  return [tag.slice(0, at), tag.slice(at + 1)];
}

function joinTag([type, tag]: [string, string]): string {
  return `${type}:${tag}`;
}
