import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/auth/principal';
import { AppError, badRequest, forbidden, notFound } from '../common/errors/app-error';
import { JsonWorkers, workerModule } from '../common/json-worker/json-workers';
import { isUuid } from '../common/validation/parse-id.pipe';
import { RequestValidationError } from '../common/validation/validation-error';
import { CreateFlowDto, FLOW_STATUSES, FlowSettingsDto, PatchFlowDto, UpdateFlowDefinitionDto } from './dto/flow.dto';
import { FlowExpansionQueryDto, ListFlowsQueryDto, ListFlowVersionsQueryDto, VERSIONS_MAX_LIMIT } from './dto/flow-query.dto';
import {
  FlowResponseDto,
  FlowResponseExtras,
  normalizeSettings,
  PaginatedFlowResponseDto,
  toFlowResponse,
  toFlowVersionResponse,
} from './dto/flow-response.dto';
import { FlowVersionSummaryDto, toFlowVersionSummary, UpdateFlowVersionMetadataDto } from './dto/flow-version.dto';
import { FlowAnalysisCache, FlowHead } from './flow-analysis';
import { checkDefinition, checkIsHeavy, DefinitionVerdict, deriveDefinition, DerivedParts, WORKER_DEFINITION_CHARS } from './definition-check';
import { DslIssue, flowTasks } from './flow-definition';
import { taskTimeoutIssues } from './flow-timeouts';
import type { FlowEntity, FlowStatus } from './flow.entity';
import type { FlowVersionEntity } from './flow-version.entity';
import { DefinitionText, definitionLength, definitionString, FlowChanges, FlowsRepository, FlowWithVersion } from './flows.repository';

/** What the flow-executions module runs on: the flow's latest version. */
export interface ExecutableFlow {
  id: string;
  organizationId: string;
  latestVersion: number;
  definition: unknown;
}

/** How a flow version is named in maps: `flow_id:version`. */
export function versionKey(flowId: string, version: number): string {
  return `${flowId}:${version}`;
}

const FLOW_WORKER = workerModule(__filename, 'flow-worker');

// flow_versions.version is a PostgreSQL integer; larger numbers name no version.
const MAX_VERSION = 2_147_483_647;

@Injectable()
export class FlowsService {
  constructor(
    private readonly repository: FlowsRepository,
    private readonly analyses: FlowAnalysisCache,
    private readonly workers: JsonWorkers,
  ) {}

  async create(principal: Principal, dto: CreateFlowDto, query: FlowExpansionQueryDto): Promise<FlowResponseDto> {
    const order = await this.assertValidDefinition(dto.definition, query);
    assertTaskTimeouts(dto.settings, dto.definition);
    const created = await this.repository.create(
      {
        organizationId: principal.organizationId,
        displayName: dto.display_name,
        description: dto.description ?? null,
        visibility: dto.visibility ?? null,
        settings: settingsToStore(dto.settings),
        tags: dto.tags ?? [],
        modifiedBy: principal.subject,
      },
      dto.definition,
    );
    rememberChecked(created.version, query, order);
    return this.respond(created, query);
  }

  /** A page of flows; `nextOffset` when the page ended early by its byte budget (docs/api.md#page-size-budgets). */
  async list(principal: Principal, query: ListFlowsQueryDto): Promise<{ body: PaginatedFlowResponseDto; nextOffset: number | null }> {
    const page = query.page ?? 1;
    const pageSize = query.page_size ?? 20;
    const empty = { body: { flows: [], total: 0, page, page_size: pageSize }, nextOffset: null };
    // Every stored definition has at least one task, so no flow is ever eligible for cleanup.
    if (query.is_cleanable) return empty;
    if (query.organization_id && query.organization_id.toLowerCase() !== principal.organizationId) return empty;
    const offset = query.offset ?? (page - 1) * pageSize;

    const groups = (query.tag_filters ?? []).filter((group) => group.values.length > 0);
    const { rows, total, truncated } = await this.repository.listPage({
      organizationId: principal.organizationId,
      search: query.search || undefined,
      tagsAny: groups.filter((group) => group.mode !== 'not_contains_any').map((group) => group.values),
      tagsNone: groups.filter((group) => group.mode === 'not_contains_any').map((group) => group.values),
      sortField: query.sort_field ?? 'created_at',
      sortDirection: query.sort_direction ?? 'desc',
      offset,
      limit: pageSize,
    });
    const counts = query.include_latest_version_executions_count
      ? await this.repository.latestVersionExecutionCounts(
          principal.organizationId,
          rows.map((row) => row.flow.id),
        )
      : null;
    const more = (row: FlowWithVersion) => ({ latestVersionExecutionsCount: counts?.get(row.flow.id) ?? null });
    // Nothing derived asked (the usual page): each flow straight from its row, without a promise per flow.
    const flows = derives(query)
      ? await eachYielding(rows, (row) => this.respond(row, query, more(row)))
      : rows.map((row) => toFlowResponse(row.flow, row.version, more(row), row.definitionText));
    return { body: { flows, total, page, page_size: pageSize }, nextOffset: truncated ? offset + rows.length : null };
  }

  async get(principal: Principal, id: string, query: FlowExpansionQueryDto): Promise<FlowResponseDto> {
    return this.respond(await this.getAccessible(principal, id), query);
  }

  async update(principal: Principal, id: string, dto: PatchFlowDto, query: FlowExpansionQueryDto): Promise<FlowResponseDto> {
    const current = await this.getAccessible(principal, id);
    assertTaskTimeouts(dto.settings, current.version.definition);
    if (dto.status != null && !(FLOW_STATUSES as readonly string[]).includes(dto.status)) {
      throw badRequest(`Invalid status '${dto.status}': must be one of ${FLOW_STATUSES.join(', ')}`);
    }
    const changes: FlowChanges = {};
    if (dto.display_name != null) changes.displayName = dto.display_name;
    if (dto.description !== undefined) changes.description = dto.description;
    if (dto.visibility !== undefined) changes.visibility = dto.visibility;
    if (dto.settings !== undefined) changes.settings = settingsToStore(dto.settings);
    if (dto.status != null) changes.status = dto.status as FlowStatus;
    if (dto.tags != null) changes.tags = dto.tags;
    if (Object.keys(changes).length > 0) {
      const updated = await this.repository.update(principal.organizationId, id, { ...changes, modifiedBy: principal.subject });
      if (!updated) throw notFound('Flow');
    }
    return this.respond(await this.getAccessible(principal, id), query);
  }

  /** Soft delete: the flow and all its versions answer 404 from now on; executions keep their data. */
  async remove(principal: Principal, id: string): Promise<void> {
    await this.getAccessibleFlow(principal, id);
    if (!(await this.repository.softDelete(principal.organizationId, id, principal.subject))) throw notFound('Flow');
    // The notification drops it on every replica; this one needs it gone for the caller's next request.
    this.analyses.invalidate(id);
  }

  /** Stores the definition as a new version (latest + 1); only a draft flow can change (spec). */
  async updateDefinition(principal: Principal, id: string, dto: UpdateFlowDefinitionDto, query: FlowExpansionQueryDto): Promise<FlowResponseDto> {
    assertDraft(await this.getAccessibleFlow(principal, id));
    const order = await this.assertValidDefinition(dto.definition, query);
    const updated = await this.repository.addVersion(principal.organizationId, id, dto.definition, principal.subject, (locked) =>
      assertDraft(this.accessibleFlow(principal, locked)),
    );
    rememberChecked(updated.version, query, order);
    this.analyses.invalidate(id);
    return this.respond(updated, query);
  }

  /** A page of versions, newest first (docs/api.md#flows-and-versions); `nextAfter` names the cursor of the next page, if any. */
  async listVersions(principal: Principal, id: string, query: ListFlowVersionsQueryDto): Promise<{ items: FlowResponseDto[]; nextAfter: number | null }> {
    const flow = await this.getAccessibleFlow(principal, id);
    const page = await this.repository.listVersions(principal.organizationId, id, query.after ?? null, query.limit ?? VERSIONS_MAX_LIMIT);
    const items = derives(query)
      ? await eachYielding(page.versions, async ({ version, definitionText }) =>
          toFlowVersionResponse(flow, version, await this.extras(version, query, definitionText), definitionText),
        )
      : page.versions.map(({ version, definitionText }) => toFlowVersionResponse(flow, version, {}, definitionText));
    return { items, nextAfter: page.more ? page.versions[page.versions.length - 1].version.version : null };
  }

  async getVersion(principal: Principal, id: string, version: number, query: FlowExpansionQueryDto): Promise<FlowResponseDto> {
    const flow = await this.getAccessibleFlow(principal, id);
    const found = isStorableVersion(version) ? await this.repository.findVersion(principal.organizationId, id, version) : null;
    if (!found) throw notFound('Flow version');
    return toFlowVersionResponse(flow, found.version, await this.extras(found.version, query, found.definitionText), found.definitionText);
  }

  async updateVersionMetadata(principal: Principal, id: string, version: number, dto: UpdateFlowVersionMetadataDto): Promise<FlowVersionSummaryDto> {
    const flow = await this.getAccessibleFlow(principal, id);
    if (!isStorableVersion(version)) throw notFound('Flow version');
    const changes: { name?: string | null; isFavourite?: boolean; modifiedBy: string } = { modifiedBy: principal.subject };
    if (dto.name !== undefined) changes.name = dto.name;
    if (dto.is_favourite != null) changes.isFavourite = dto.is_favourite;
    const updated = await this.repository.updateVersion(principal.organizationId, id, version, changes);
    if (!updated) throw notFound('Flow version');
    return toFlowVersionSummary(updated, flow.latestVersion);
  }

  /**
   * For creates: the flow's latest version, analysed, from the cache (no query) or read and cached;
   * `reread` skips the cache (the create found its version stale). 404 unknown or deleted, 403 another organization.
   */
  async latest(principal: Principal, flowId: string, reread = false): Promise<FlowHead> {
    const id = isUuid(flowId) ? flowId.toLowerCase() : null;
    if (id && reread) this.analyses.invalidate(id);
    const cached = id ? this.analyses.head(id) : undefined;
    if (cached) {
      this.checkAccess(principal, cached.organizationId);
      return cached;
    }
    const row = id ? await this.repository.findExecutable(id) : undefined;
    this.checkAccess(principal, row && row.organization_id);
    return this.analyses.rememberHead(row!.id, row!.organization_id, row!.latest_version, row!.definition);
  }

  /** For the flow-executions module: the flow's latest version, in one query; 404 unknown or deleted, 403 another organization. */
  async getExecutable(principal: Principal, flowId: string): Promise<ExecutableFlow> {
    const row = isUuid(flowId) ? await this.repository.findExecutable(flowId.toLowerCase()) : undefined;
    this.checkAccess(principal, row && row.organization_id);
    return { id: row!.id, organizationId: row!.organization_id, latestVersion: row!.latest_version, definition: row!.definition };
  }

  /**
   * A 422 past the definition's limits, `invalid_dsl_input` for a definition that breaks the DSL's
   * rules; the ordered task names when the answer includes them. A definition that compiles schemas
   * or is large is checked on a JSON worker (docs/api.md#event-loop-budget).
   */
  private async assertValidDefinition(definition: unknown, query: FlowExpansionQueryDto): Promise<string[] | null> {
    const task = { definition, order: Boolean(query.include_ordered_task_names) };
    const verdict = checkIsHeavy(definition) ? await this.workers.run<DefinitionVerdict>(FLOW_WORKER, 'checkDefinition', task) : checkDefinition(task);
    // 422 first: past these limits, checking the definition itself would cost too much.
    if ('limits' in verdict) {
      throw new RequestValidationError(
        verdict.limits.map((issue) => ({ loc: ['body', 'definition', ...issue.loc], msg: issue.msg, type: 'limit_exceeded', input: null })),
      );
    }
    if ('problems' in verdict) throw new AppError('invalid_dsl_input', 'Invalid DSL input', verdict.problems);
    return verdict.order;
  }

  private async respond(row: FlowWithVersion, query: FlowExpansionQueryDto, more: FlowResponseExtras = {}): Promise<FlowResponseDto> {
    return toFlowResponse(row.flow, row.version, { ...(await this.extras(row.version, query, row.definitionText)), ...more }, row.definitionText);
  }

  /**
   * The derived parts the query asks for: computed once per version and process, on a JSON worker when
   * the definition is heavy. A definition read as text goes to the worker as text, parsed there.
   */
  private async extras(version: FlowVersionEntity, query: FlowExpansionQueryDto, definitionText?: DefinitionText): Promise<FlowResponseExtras> {
    if (!derives(query)) return { taskNames: null, validationErrors: null };
    const order = Boolean(query.include_ordered_task_names);
    const issues = Boolean(query.include_validation_errors);
    const key = `${version.flowId}:${version.version}`;
    let taskNames = order ? (recall(`${key}:order`) as string[] | undefined) : undefined;
    let validationErrors = issues ? (recall(`${key}:issues`) as DslIssue[] | undefined) : undefined;
    const wanted = { order: order && !taskNames, issues: issues && !validationErrors };
    if (wanted.order || wanted.issues) {
      // Text this long is heavy whatever it holds; shorter, it costs little to parse and look at.
      const heavy = definitionText !== undefined && definitionLength(definitionText) >= WORKER_DEFINITION_CHARS;
      const found =
        heavy || checkIsHeavy(version.definition)
          ? await this.workers.run<DerivedParts>(
              FLOW_WORKER,
              'deriveDefinition',
              heavy ? { definitionText: definitionString(definitionText!), ...wanted } : { definition: version.definition, ...wanted },
            )
          : deriveDefinition({ definition: version.definition, ...wanted });
      if (found.order) remember(`${key}:order`, (taskNames = found.order));
      if (found.issues) remember(`${key}:issues`, (validationErrors = found.issues));
    }
    return { taskNames: taskNames ?? null, validationErrors: validationErrors ?? null };
  }

  private async getAccessible(principal: Principal, id: string): Promise<FlowWithVersion> {
    const row = isUuid(id) ? await this.repository.readWithLatest(id.toLowerCase()) : null;
    this.accessibleFlow(principal, row?.flow ?? null);
    return row!;
  }

  /** The flow alone, for what needs no definition (the versions, a delete, the check before a new definition). */
  private async getAccessibleFlow(principal: Principal, id: string): Promise<FlowEntity> {
    return this.accessibleFlow(principal, isUuid(id) ? await this.repository.findFlow(id.toLowerCase()) : null);
  }

  private accessibleFlow(principal: Principal, flow: FlowEntity | null): FlowEntity {
    this.checkAccess(principal, flow?.organizationId);
    return flow!;
  }

  /** The one place that decides 404 (unknown or deleted) versus 403 (another organization's) for a flow. */
  private checkAccess(principal: Principal, organizationId: string | undefined): void {
    if (organizationId === undefined) throw notFound('Flow');
    if (organizationId !== principal.organizationId) throw forbidden("User doesn't have access to this flow");
  }
}

/** Whether the query asks for parts derived from the definitions (its order, its problems). */
function derives(query: FlowExpansionQueryDto): boolean {
  return Boolean(query.include_ordered_task_names || query.include_validation_errors);
}

/**
 * `map`, letting other requests run between items: computing derived parts here for a small flow
 * not seen before costs up to about half a millisecond, and a page holds up to 100 flows.
 */
async function eachYielding<T, R>(items: T[], map: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) {
    out.push(await map(item));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return out;
}

// A version's definition never changes: what is derived from it (its order, its problems, which compiles its schemas) is
// computed once per process, so that a page of 100 flows with every include costs what saving them did, once.
const DERIVED_LIMIT = 1000;
const derivedCache = new Map<string, unknown>();

/** A derived part computed before, made the most recently used. */
function recall(key: string): unknown {
  const value = derivedCache.get(key);
  if (value !== undefined) remember(key, value);
  return value;
}

function remember(key: string, value: unknown): void {
  if (!derivedCache.delete(key) && derivedCache.size >= DERIVED_LIMIT) derivedCache.delete(derivedCache.keys().next().value as string);
  derivedCache.set(key, value);
}

/** What the answer of a save includes, from its check: no problems (it was saved), its order when asked (computed by the check). */
function rememberChecked(version: FlowVersionEntity, query: FlowExpansionQueryDto, order: string[] | null): void {
  if (query.include_validation_errors) remember(`${version.flowId}:${version.version}:issues`, []);
  if (order) remember(`${version.flowId}:${version.version}:order`, order);
}

function assertDraft(flow: FlowEntity): FlowEntity {
  if (flow.status !== 'draft') {
    throw badRequest(`Only a flow in draft status can change its definition; this flow is '${flow.status}'`);
  }
  return flow;
}

function isStorableVersion(version: number): boolean {
  return Number.isSafeInteger(version) && version >= 1 && version <= MAX_VERSION;
}

/** `settings.timeouts.tasks` names tasks of the flow's (latest) definition, with valid seconds: a 422 naming the field otherwise. */
function assertTaskTimeouts(settings: FlowSettingsDto | null | undefined, definition: unknown): void {
  const names = flowTasks(definition).map((task) => task.name);
  const issues = taskTimeoutIssues(settings?.timeouts?.tasks, names, ['body', 'settings', 'timeouts', 'tasks']);
  if (issues.length > 0) throw new RequestValidationError(issues);
}

function settingsToStore(settings: FlowSettingsDto | null | undefined): Record<string, unknown> | null {
  return normalizeSettings(settings) as Record<string, unknown> | null;
}
