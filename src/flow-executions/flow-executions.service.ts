import type { EventEmitter } from 'node:events';
import { releaseAdmission } from '../common/admission/admission.service';
import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import { AppError, badRequest, forbidden, notFound } from '../common/errors/app-error';
import { disconnectSignal } from '../common/http/disconnect';
import { RawJsonBytes } from '../common/http/raw-json';
import type { TraceContext } from '../common/http/trace-context';
import { keepOutcome, OwnedKey } from '../common/idempotency/idempotency.context';
import { ifNoneMatchHits } from '../common/http/etag';
import { HeldRequests } from '../common/held/held-requests';
import { WakeReads } from '../common/held/wake-reads';
import { MetricsService } from '../common/metrics/metrics.service';
import { EventLog } from '../event-log/event-log.service';
import { FlowAnalysisCache } from '../flows/flow-analysis';
import { downstreamTasks, inputSchemaOf, FlowTask } from '../flows/flow-definition';
import { FlowsService, versionKey } from '../flows/flows.service';
import { OrganizationsService } from '../organizations/organizations.service';
import {
  FlowExecutionRow,
  CreateFlowExecutionDto,
  FlowExecutionResponseDto,
  FlowExecutionResponseWithRunNumberDto,
  toFlowExecutionResponse,
} from './dto/flow-execution.dto';
import { GetFlowExecutionQueryDto, ListFlowExecutionsQueryDto } from './dto/flow-execution-query.dto';
import { OrganizationSettingsResponseDto, UpdateOrganizationSettingsDto } from './dto/organization-settings.dto';
import { accessible } from './execution-access';
import { Change, ExecutionLifecycle } from './execution-lifecycle';
import type { ExecutionStatus } from './execution-status';
import { FlowExecutionsRepository, StatsRow } from './flow-executions.repository';
import { FlowExecutionStatsQueryDto, FlowExecutionStatsResponseDto } from './dto/stats.dto';
import { InputValidator } from './input-validator';
import { NamedTask, PinnedVersion, unknownTasksError } from './pinned-tasks';
import { parseSelection, Selection } from './selection';

export interface FlowExecutionPage {
  /** The page's runs, one JSON array (FlowExecutionResponseWithRunNumberDto[]) as PostgreSQL wrote it. */
  items: RawJsonBytes;
  /** Id of the last execution when the page is full: the cursor of the next page. */
  nextCursor: string | null;
}

/** An execution by its id, or by its flow and run number. */
export type ExecutionLocator = { id: string } | { flowId: string; runNumber: number };

export interface ReexecuteOptions {
  /** The caller's transaction (a task report that re-executes the run); else the re-execution opens its own. */
  within?: EntityManager;
  /** The request's W3C trace context: replaces the run's when given. */
  trace?: TraceContext | null;
  /** The request's `Idempotency-Key`, whose outcome commits with the re-execution (its own transaction only). */
  key?: OwnedKey;
}

export interface ConditionalResponse {
  id: string;
  etag: string;
  /** Null when the caller's `If-None-Match` names the current version: answer 304. */
  body: FlowExecutionResponseWithRunNumberDto | null;
}

@Injectable()
export class FlowExecutionsService {
  /** Reads after a wake, shared by the long-polls of one execution. */
  private readonly wakeReads: WakeReads<FlowExecutionRow | undefined>;

  constructor(
    private readonly repository: FlowExecutionsRepository,
    private readonly flows: FlowsService,
    private readonly analyses: FlowAnalysisCache,
    private readonly inputs: InputValidator,
    private readonly events: EventLog,
    private readonly lifecycle: ExecutionLifecycle,
    private readonly organizations: OrganizationsService,
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
    private readonly held: HeldRequests,
  ) {
    this.wakeReads = new WakeReads(
      (row) => row,
      () => metrics.heldReads.inc({ kind: 'execution' }),
    );
  }

  /**
   * The retrieve endpoint with conditional GET: a strong ETag from everything the body depends on
   * (update time, status, the include flags, the credits), and no body when the caller has it.
   * Found by id, or by flow and run number (then the body always carries the run number).
   */
  async getConditional(
    principal: Principal,
    at: ExecutionLocator,
    query: GetFlowExecutionQueryDto,
    ifNoneMatch: string | undefined,
    woken = false,
  ): Promise<ConditionalResponse> {
    const withCredits = query.include_credits === true;
    // Woken long-polls of one execution share one read (their access was decided before waiting).
    const row = woken
      ? accessible(
          principal,
          await this.wakeReads.read(`${'id' in at ? at.id : `${at.flowId}:${at.runNumber}`}:${withCredits}`, 0, () => this.findRow(at, withCredits)),
        )
      : await this.find(principal, at, withCredits);
    const includeRunNumber = query.include_run_number === true || 'runNumber' in at;
    const flags = `${includeRunNumber ? 'r' : ''}${query.include_credits ? `c${row.total_credits ?? ''}` : ''}`;
    const etag = `"${row.updated_at.replace(/\D/g, '')}-${row.status}-${flags}"`;
    if (ifNoneMatchHits(ifNoneMatch, etag)) return { id: row.id, etag, body: null };
    return { id: row.id, etag, body: toFlowExecutionResponse(row, { includeRunNumber, includeCredits: query.include_credits }) };
  }

  /**
   * The long-poll (RFC 7240 `Prefer: wait`): when the caller already has the current version, the
   * answer waits until the execution changes or `waitSeconds` pass. Access is decided by the first
   * read; the wait holds no database connection.
   */
  async waitForChange(
    principal: Principal,
    at: ExecutionLocator,
    query: GetFlowExecutionQueryDto,
    ifNoneMatch: string | undefined,
    waitSeconds: number | null,
    response: Pick<EventEmitter, 'once'>,
  ): Promise<ConditionalResponse & { waited: boolean }> {
    let result = await this.getConditional(principal, at, query, ifNoneMatch);
    if (result.body || waitSeconds === null) return { ...result, waited: false };
    const release = this.held.hold(principal);
    const signal = disconnectSignal(response);
    const deadline = Date.now() + waitSeconds * 1000;
    const subscription = this.events.watchExecution(result.id);
    releaseAdmission(response); // waiting costs nobody a slot (docs/development.md#held-requests)
    this.metrics.longPolls.inc();
    try {
      result = await this.getConditional(principal, at, query, ifNoneMatch);
      while (!result.body && !signal.aborted && !subscription.ended && Date.now() < deadline) {
        if (await subscription.wait(deadline - Date.now(), signal)) result = await this.getConditional(principal, at, query, ifNoneMatch, true);
      }
    } finally {
      this.metrics.longPolls.dec();
      subscription.close();
      release();
    }
    return { ...result, waited: true };
  }

  private findRow(at: ExecutionLocator, withCredits: boolean): Promise<FlowExecutionRow | undefined> {
    return 'id' in at ? this.repository.readById(at.id, withCredits) : this.repository.readByRunNumber(at.flowId, at.runNumber, withCredits);
  }

  /** By id, or by run number with one index lookup; only a miss asks whether the flow is absent (404) or another organization's (403). */
  private async find(principal: Principal, at: ExecutionLocator, withCredits: boolean): Promise<FlowExecutionRow> {
    if ('id' in at) return accessible(principal, await this.repository.readById(at.id, withCredits));
    const row = await this.repository.readByRunNumber(at.flowId, at.runNumber, withCredits);
    if (!row) await this.flows.getExecutable(principal, at.flowId);
    return accessible(principal, row);
  }

  /** The row, for other modules that act on an execution (404 / 403 decided by `accessible`). */
  async getRow(principal: Principal, id: string, withCredits: boolean): Promise<FlowExecutionRow> {
    return accessible(principal, await this.repository.readById(id, withCredits));
  }

  /**
   * The flow's latest version comes from the analysis cache (read once per flow and process); the
   * start checks, in its one statement, that it is still the latest, else the flow is read again.
   * `trace`: the request's W3C trace context, kept with the run (docs/api.md#trace-context).
   */
  async create(principal: Principal, dto: CreateFlowExecutionDto, trace: TraceContext | null = null, key?: OwnedKey): Promise<FlowExecutionResponseDto> {
    for (let attempt = 1; ; attempt++) {
      const { analysis } = await this.flows.latest(principal, dto.flow_id, attempt > 1);
      const task = chooseInputTask(analysis.inputTasks, dto.input_task_name ?? null);
      const schema = inputSchemaOf(task);
      if (schema) await this.inputs.validate(analysis.schema(`${task.name}:input`, schema), dto.input);

      const row = await this.lifecycle.start(
        {
          organizationId: principal.organizationId,
          flowId: analysis.flowId,
          flowVersion: analysis.version,
          input: dto.input,
          inputTaskName: task.name,
          triggeredTaskExecutorName: analysis.inputTasks.length > 1 ? task.task_executor_name : null,
          modifiedBy: principal.subject,
          trace,
        },
        key,
      );
      if (row !== 'stale') return toFlowExecutionResponse(row);
      // A new version or a deletion committed since the version was cached; three in a row is a flow edited without pause.
      if (attempt === 3) throw new AppError('service_unavailable', 'The flow changed while the execution was being created; try again');
    }
  }

  async list(principal: Principal, query: ListFlowExecutionsQueryDto): Promise<FlowExecutionPage> {
    const pageSize = query.page_size ?? 10;
    const result = await this.repository.list({
      ...parseSelection(principal.organizationId, query),
      sortField: query.sort_field ?? 'created_at',
      sortDirection: query.sort_direction ?? 'desc',
      cursorId: query.start_from_execution_id?.toLowerCase(),
      offset: ((query.page ?? 1) - 1) * pageSize,
      limit: pageSize,
      withCredits: query.include_credits === true,
      withRunNumber: query.include_run_number === true,
    });
    if (result.flow === 'foreign') throw forbidden("User doesn't have access to this flow");
    if (result.flow !== 'ok') throw notFound('Flow');
    if (result.cursor === 'missing') {
      throw badRequest('start_from_execution_id does not name an execution of this flow');
    }
    // The page is JSON text PostgreSQL built: sent as is (docs/api.md#event-loop-budget).
    const { page } = result;
    // A full page, or one ended early by its size, continues by cursor.
    const more = page.count === pageSize || result.truncated;
    return { items: new RawJsonBytes(page.body), nextCursor: more && page.count > 0 ? page.lastId : null };
  }

  /** Exact counts of the selected runs by status, version or day, with the durations of the finished ones (docs/api.md#run-statistics). */
  async stats(principal: Principal, query: FlowExecutionStatsQueryDto): Promise<FlowExecutionStatsResponseDto> {
    const groupBy = query.group_by ?? 'status';
    const result = await this.repository.stats(parseSelection(principal.organizationId, query), groupBy);
    if (result.flow === 'foreign') throw forbidden("User doesn't have access to this flow");
    if (result.flow !== 'ok') throw notFound('Flow');
    const [total, ...groups] = result.rows;
    const durations = (r: StatsRow) => (r.finished > 0 ? { p50: Number(r.p50), p95: Number(r.p95), max: Number(r.max) } : null);
    return {
      flow_id: query.flow_id.toLowerCase(),
      group_by: groupBy,
      count: total.count,
      finished: total.finished,
      duration_seconds: durations(total),
      groups: groups.map((g) => ({ key: g.key!, count: g.count, finished: g.finished, duration_seconds: durations(g) })),
    };
  }

  /**
   * A selection's preview for a bulk action (403 / 404 on its flow as the list answers): how many
   * runs it matches now, counted up to `countUpTo + 1`, and the oldest `sample` of them.
   */
  async preview(selection: Selection, countUpTo: number | null, sample: number): Promise<{ matched: number | null; sample: FlowExecutionResponseDto[] }> {
    const result = await this.repository.preview(selection, countUpTo, sample);
    if (result.flow === 'foreign') throw forbidden("User doesn't have access to this flow");
    if (result.flow !== 'ok') throw notFound('Flow');
    return { matched: result.matched, sample: result.sample.map((row) => toFlowExecutionResponse(row)) };
  }

  /** The flow's latest version, for re-executions (404 / 403 as the single-run endpoint answers). */
  async latestVersion(principal: Principal, flowId: string): Promise<number> {
    return (await this.flows.getExecutable(principal, flowId)).latestVersion;
  }

  /** Soft delete; deleting again is a no-op. Frees the execution's slot if it held one. */
  async remove(principal: Principal, id: string): Promise<void> {
    await this.lifecycle.change(principal, id, { cause: 'delete' });
  }

  /**
   * `PATCH .../status`: the transition table decides; starting a queued run needs a free slot. A
   * move that is a user's decision needs `executions:write` too, judged on the locked row's status.
   */
  async patchStatus(principal: Principal, id: string, to: ExecutionStatus): Promise<FlowExecutionResponseDto> {
    const row = await this.lifecycle.change(principal, id, { cause: 'patch', to });
    return toFlowExecutionResponse(row);
  }

  /** running/awaiting_input → cancel_requested; queued → cancelled; asking again while cancel_requested is a no-op. */
  async cancel(principal: Principal, id: string, key?: OwnedKey): Promise<void> {
    if (!key) return void (await this.lifecycle.change(principal, id, { cause: 'cancel' }));
    await this.events.transaction(async (m) => {
      await this.lifecycle.change(principal, id, { cause: 'cancel' }, m);
      await keepOutcome(m, key);
    });
  }

  /**
   * Runs the execution again on the flow's latest version: every task gets a new attempt, or with
   * `onlyStale` only the stale ones are reset. It runs at once when a slot is free, else waits. A
   * `trace` given replaces the run's; without one the run keeps its own (docs/api.md#trace-context).
   * `within`: the caller's transaction; else its own, where the request's `key` keeps its outcome.
   */
  async reexecute(principal: Principal, id: string, onlyStale: boolean, options: ReexecuteOptions = {}): Promise<void> {
    const current = accessible(principal, await this.repository.readById(id, false));
    const flow = await this.flows.getExecutable(principal, current.flow_id);
    const change: Change = { cause: 're_execute', flowVersion: flow.latestVersion, onlyStale, trace: options.trace ?? null };
    if (options.within) {
      await this.lifecycle.change(principal, id, change, options.within);
      return;
    }
    await this.events.transaction(async (m) => {
      await this.lifecycle.change(principal, id, change, m);
      await keepOutcome(m, options.key); // POST .../execute: its Idempotency-Key's outcome commits with the re-execution
    });
  }

  /**
   * A failed or cancelled run resumes on its pinned version (docs/api.md#redrive): its unfinished
   * tasks, or `fromTask` and everything downstream of it, go back to queued; the run to running, or
   * queued without a free slot.
   */
  async redrive(principal: Principal, id: string, fromTask: string | undefined): Promise<FlowExecutionResponseDto> {
    const current = accessible(principal, await this.repository.readById(id, false));
    let tasks: string[] | null = null;
    if (fromTask !== undefined) {
      const { definition } = (await this.knownTasks([{ run: current, taskName: fromTask, at: 'from_task' }])).get(current.id)!;
      tasks = [fromTask, ...downstreamTasks(definition, fromTask)];
    }
    return toFlowExecutionResponse(await this.lifecycle.change(principal, id, { cause: 'redrive', tasks }));
  }

  /**
   * The one check of task names against their runs' pinned flow versions (400 naming each unknown
   * one; 404 where the endpoint documents it). Answers the runs' pinned versions, by run id.
   */
  async knownTasks(
    named: (NamedTask & { run: FlowExecutionRow })[],
    code: 'bad_request' | 'not_found' = 'bad_request',
    manager?: EntityManager,
  ): Promise<Map<string, PinnedVersion>> {
    const runs = [...new Map(named.map((n) => [n.run.id, n.run])).values()];
    const versions = [...new Map(runs.map((r) => [versionKey(r.flow_id, r.flow_version), { flowId: r.flow_id, version: r.flow_version }])).values()];
    const analyses = await this.analyses.analyses(versions, manager);
    const pinned = new Map(runs.map((run) => [run.id, analyses.get(versionKey(run.flow_id, run.flow_version))!]));
    const unknown = named.filter((n) => !pinned.get(n.run.id)?.has(n.taskName));
    if (unknown.length > 0) throw unknownTasksError(unknown, code);
    return pinned;
  }

  /** The organization's limit, its slots in use and its waiting executions. */
  async getSettings(principal: Principal): Promise<OrganizationSettingsResponseDto> {
    return this.dataSource.transaction('REPEATABLE READ', (m) => this.settings(m, principal.organizationId));
  }

  /** A raised limit admits waiting executions at once, in the same transaction. */
  async updateSettings(principal: Principal, dto: UpdateOrganizationSettingsDto): Promise<OrganizationSettingsResponseDto> {
    return this.events.transaction(async (m) => {
      await this.lifecycle.setConcurrencyLimit(m, principal.organizationId, dto.max_concurrent_executions);
      return this.settings(m, principal.organizationId);
    });
  }

  private async settings(m: EntityManager, organizationId: string): Promise<OrganizationSettingsResponseDto> {
    const slots = await this.organizations.slots(m, organizationId);
    return {
      organization_id: organizationId,
      max_concurrent_executions: slots.limit,
      running_executions: slots.active,
      queued_executions: await this.repository.queuedCount(m, organizationId),
    };
  }
}

function chooseInputTask(inputs: readonly FlowTask[], name: string | null): FlowTask {
  const names = inputs.map((t) => `'${t.name}'`).join(', ');
  if (name !== null) {
    const task = inputs.find((t) => t.name === name);
    if (!task) throw badRequest(`input_task_name '${name}' is not an input task of this flow; its input tasks are ${names}`);
    return task;
  }
  if (inputs.length !== 1) throw badRequest(`input_task_name is required: this flow has several input tasks (${names})`);
  return inputs[0];
}
