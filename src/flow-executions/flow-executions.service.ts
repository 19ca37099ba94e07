import type { EventEmitter } from 'node:events';
import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { missingPermission, statusMovePermissions } from '../common/auth/permissions';
import type { Principal } from '../common/auth/principal';
import { AppError, badRequest, conflict, forbidden, notFound } from '../common/errors/app-error';
import { disconnectSignal } from '../common/http/disconnect';
import { ifNoneMatchHits } from '../common/http/etag';
import { MetricsService } from '../common/metrics/metrics.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventsService } from '../events/events.service';
import { flowTasks, inputSchemaOf, inputTasks, FlowTask } from '../flows/flow-definition';
import { FlowsService } from '../flows/flows.service';
import {
  FlowExecutionRow,
  CreateFlowExecutionDto,
  FlowExecutionResponseDto,
  FlowExecutionResponseWithRunNumberDto,
  toFlowExecutionResponse,
} from './dto/flow-execution.dto';
import { GetFlowExecutionQueryDto, ListFlowExecutionsQueryDto } from './dto/flow-execution-query.dto';
import { AddTaskStatusRequestDto, FlowTaskStatusResponseDto, toFlowTaskStatusResponse } from './dto/task-status.dto';
import { canTransition, ExecutionStatus, isActive } from './execution-status';
import { FlowExecutionsRepository } from './flow-executions.repository';
import { InputValidator } from './input-validator';

export interface FlowExecutionPage {
  items: FlowExecutionResponseWithRunNumberDto[];
  /** Id of the last execution when the page is full: the cursor of the next page. */
  nextCursor: string | null;
}

/** An execution by its id, or by its flow and run number. */
export type ExecutionLocator = { id: string } | { flowId: string; runNumber: number };

export interface ConditionalResponse {
  id: string;
  etag: string;
  /** Null when the caller's `If-None-Match` names the current version: answer 304. */
  body: FlowExecutionResponseWithRunNumberDto | null;
}

type Decide = (current: FlowExecutionRow, hasFreeSlot: () => Promise<boolean>) => Promise<ExecutionStatus | null>;

@Injectable()
export class FlowExecutionsService {
  constructor(
    private readonly repository: FlowExecutionsRepository,
    private readonly flows: FlowsService,
    private readonly inputs: InputValidator,
    private readonly events: EventsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

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
  ): Promise<ConditionalResponse> {
    const row = await this.find(principal, at, query.include_credits === true);
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
    const signal = disconnectSignal(response);
    const deadline = Date.now() + waitSeconds * 1000;
    const subscription = this.events.watchExecution(result.id);
    this.metrics.longPolls.inc();
    try {
      result = await this.getConditional(principal, at, query, ifNoneMatch);
      while (!result.body && !signal.aborted && !subscription.ended && Date.now() < deadline) {
        if (await subscription.wait(deadline - Date.now(), signal)) result = await this.getConditional(principal, at, query, ifNoneMatch);
      }
    } finally {
      this.metrics.longPolls.dec();
      subscription.close();
    }
    return { ...result, waited: true };
  }

  /** By id, or by run number with one index lookup; only a miss asks whether the flow is absent (404) or another organization's (403). */
  private async find(principal: Principal, at: ExecutionLocator, withCredits: boolean): Promise<FlowExecutionRow> {
    if ('id' in at) return this.accessible(principal, await this.repository.findById(at.id, withCredits));
    const row = await this.repository.findByRunNumber(at.flowId, at.runNumber, withCredits);
    if (!row) await this.flows.getExecutable(principal, at.flowId);
    return this.accessible(principal, row);
  }

  /** The row, for other modules that act on an execution (404 / 403 decided here). */
  async getRow(principal: Principal, id: string, withCredits: boolean): Promise<FlowExecutionRow> {
    return this.accessible(principal, await this.repository.findById(id, withCredits));
  }

  async create(principal: Principal, dto: CreateFlowExecutionDto): Promise<FlowExecutionResponseDto> {
    const flow = await this.flows.getExecutable(principal, dto.flow_id);
    const inputs = inputTasks(flow.definition);
    const task = chooseInputTask(inputs, dto.input_task_name ?? null);
    const schema = inputSchemaOf(task);
    if (schema) this.inputs.validate(`${flow.id}:${flow.latestVersion}:${task.name}`, schema, dto.input);

    const row = await this.repository.start(
      {
        organizationId: principal.organizationId,
        flowId: flow.id,
        flowVersion: flow.latestVersion,
        input: dto.input,
        inputTaskName: task.name,
        triggeredTaskExecutorName: inputs.length > 1 ? task.task_executor_name : null,
        modifiedBy: principal.subject,
      },
      this.config.defaultOrgConcurrencyLimit,
    );
    if (!row) throw notFound('Flow'); // deleted between the read and the insert
    // The created event is written by start_flow_execution itself, not through EventsService.
    this.metrics.eventsCommitted([{ type: 'flow_execution.created', status: row.status, previousStatus: null }]);
    return toFlowExecutionResponse(row);
  }

  async list(principal: Principal, query: ListFlowExecutionsQueryDto): Promise<FlowExecutionPage> {
    const pageSize = query.page_size ?? 10;
    const result = await this.repository.list({
      flowId: query.flow_id.toLowerCase(),
      organizationId: principal.organizationId,
      sortField: query.sort_field ?? 'created_at',
      sortDirection: query.sort_direction ?? 'desc',
      status: query.status,
      statusExclude: query.status_exclude,
      tags: query.tags?.map(splitTag),
      tagsExclude: query.tags_exclude?.map(splitTag),
      createdAfter: query.created_after,
      createdBefore: query.created_before,
      updatedAfter: query.updated_after,
      updatedBefore: query.updated_before,
      cursorId: query.start_from_execution_id?.toLowerCase(),
      offset: ((query.page ?? 1) - 1) * pageSize,
      limit: pageSize,
      withCredits: query.include_credits === true,
    });
    if (result.flow === 'foreign') throw forbidden("User doesn't have access to this flow");
    if (result.flow !== 'ok') throw notFound('Flow');
    if (result.cursor === 'missing') {
      throw badRequest('start_from_execution_id does not name an execution of this flow');
    }
    const options = { includeRunNumber: query.include_run_number, includeCredits: query.include_credits };
    const items = result.rows.map((row) => toFlowExecutionResponse(row, options));
    // A full page, or one ended early by its size, continues by cursor.
    const more = items.length === pageSize || result.truncated;
    return { items, nextCursor: more && items.length > 0 ? items[items.length - 1].id : null };
  }

  /** Soft delete; deleting again is a no-op. Frees the execution's slot if it held one. */
  async remove(principal: Principal, id: string): Promise<void> {
    const row = await this.repository.findById(id, false);
    if (row?.status === 'deleted' && row.organization_id === principal.organizationId) return;
    this.accessible(principal, row);
    await this.move(principal, id, async (current) => (current.status === 'deleted' ? null : 'deleted'));
  }

  /**
   * `PATCH .../status`: the transition table decides; starting a queued run needs a free slot. A
   * move that is a user's decision needs `executions:write` too, judged on the locked row's status.
   */
  async patchStatus(principal: Principal, id: string, to: ExecutionStatus): Promise<FlowExecutionResponseDto> {
    this.accessible(principal, await this.repository.findById(id, false));
    const row = await this.move(principal, id, async (current, hasFreeSlot) => {
      const missing = missingPermission(principal.role, statusMovePermissions(current.status, to));
      if (missing) throw forbidden(`Changing status from '${current.status}' to '${to}' needs permission '${missing}', which role '${principal.role}' does not have`);
      if (!canTransition(current.status, to)) throw illegalTransition(current.status, to);
      if (to === 'running' && !(await hasFreeSlot())) {
        throw conflict("Cannot change status from 'queued' to 'running': the organization is at its concurrency limit");
      }
      return to;
    });
    return toFlowExecutionResponse(row);
  }

  /** running/awaiting_input → cancel_requested; queued → cancelled; asking again while cancel_requested is a no-op. */
  async cancel(principal: Principal, id: string): Promise<void> {
    this.accessible(principal, await this.repository.findById(id, false));
    await this.move(principal, id, async (current) => {
      if (current.status === 'cancel_requested') return null;
      const to: ExecutionStatus = current.status === 'queued' ? 'cancelled' : 'cancel_requested';
      if (!canTransition(current.status, to)) {
        throw conflict(`Cannot cancel a flow execution in status '${current.status}'`);
      }
      return to;
    });
  }

  /**
   * Runs the execution again on the flow's latest version: every task gets a new attempt, or with
   * `onlyStale` only the stale ones are reset. It runs at once when a slot is free, else waits.
   */
  async reexecute(principal: Principal, id: string, onlyStale: boolean, within?: EntityManager): Promise<void> {
    const current = this.accessible(principal, await this.repository.findById(id, false));
    const flow = await this.flows.getExecutable(principal, current.flow_id);
    await this.move(
      principal,
      id,
      async (row, hasFreeSlot) => {
        if (row.status === 'cancel_requested') {
          throw conflict("Cannot re-execute a flow execution in status 'cancel_requested': its cancellation is in progress");
        }
        if (isActive(row.status)) return 'running';
        return (await hasFreeSlot()) ? 'running' : 'queued';
      },
      { flowVersion: flow.latestVersion, afterMove: (m) => this.repository.restartTasks(m, id, onlyStale), within },
    );
  }

  /**
   * A worker's batch of task status reports, recorded as history. A task awaiting input moves a
   * running execution to awaiting_input in the same transaction.
   */
  async addTaskStatuses(principal: Principal, id: string, dto: AddTaskStatusRequestDto): Promise<FlowTaskStatusResponseDto[]> {
    const row = this.accessible(principal, await this.repository.findById(id, false));
    const known = new Set((await this.pinnedTasks(row)).map((t) => t.name));
    const unknown = [...new Set(dto.statuses.map((s) => s.task_name).filter((name) => !known.has(name)))];
    if (unknown.length > 0) {
      throw badRequest(`Unknown task names for flow version ${row.flow_version}: ${unknown.join(', ')}`, unknown.map((n) => `statuses: unknown task '${n}'`));
    }
    const awaiting = dto.statuses.some((s) => s.status === 'awaiting_input');
    const rows = await this.events.transaction(async (m) => {
      if (awaiting) {
        await this.repository.lockOrganization(m, principal.organizationId);
        const locked = this.accessible(principal, await this.repository.lockForUpdate(m, id));
        await this.syncFromTasks(m, principal, locked, 'awaiting_input');
      }
      return this.repository.insertTaskStatuses(m, row, dto.statuses);
    });
    return rows.map(toFlowTaskStatusResponse);
  }

  /** Moves a run to `to` from a worker's task report (awaiting_input) or a task edit (edited), when allowed. */
  async syncFromTasks(m: EntityManager, principal: Principal, row: FlowExecutionRow, to: 'awaiting_input' | 'edited'): Promise<void> {
    const allowed = to === 'awaiting_input' ? row.status === 'running' : row.status === 'completed';
    if (allowed) this.recordMove(m, row, await this.repository.setStatus(m, row.id, to, principal.subject));
  }

  /** Tasks of the execution's pinned flow version. */
  async pinnedTasks(row: FlowExecutionRow): Promise<FlowTask[]> {
    return flowTasks(await this.repository.definitionOf(row.flow_id, row.flow_version));
  }

  /** One place decides 404 versus 403 (CONTRACT.md): deleted reads as absent, another org's as forbidden. */
  accessible(principal: Principal, row: FlowExecutionRow | undefined): FlowExecutionRow {
    if (!row || row.status === 'deleted') throw notFound('Flow execution');
    if (row.organization_id !== principal.organizationId) {
      throw forbidden('You do not have permission to access this flow execution');
    }
    return row;
  }

  /**
   * Every status change: organization lock, then the row lock, then the decision on the locked
   * row, so concurrent moves serialize and the number running never passes the limit. A freed
   * slot admits the oldest waiting executions in the same transaction (the caller's, when given).
   */
  private async move(
    principal: Principal,
    id: string,
    decide: Decide,
    options: { flowVersion?: number; afterMove?: (m: EntityManager) => Promise<void>; within?: EntityManager } = {},
  ): Promise<FlowExecutionRow> {
    const run = async (m: EntityManager) => {
      const limit = await this.concurrencyLimit(m, principal.organizationId);
      const current = this.accessible(principal, await this.repository.lockForUpdate(m, id));
      const hasFreeSlot = async () => (await this.repository.activeCount(m, principal.organizationId)) < limit;
      const to = await decide(current, hasFreeSlot);
      if (to === null) return current;
      const updated = await this.repository.setStatus(m, id, to, principal.subject, options.flowVersion ?? null);
      this.recordMove(m, current, updated);
      if (to === 'deleted') await this.repository.retireTags(m, id);
      await options.afterMove?.(m);
      if (isActive(current.status) && !isActive(to)) await this.admitWaiting(m, principal.organizationId, limit);
      return updated;
    };
    return options.within ? run(options.within) : this.events.transaction(run);
  }

  /** Admits the oldest waiting executions while the organization has free slots; needs its lock and an events transaction. */
  async admitWaiting(m: EntityManager, organizationId: string, limit: number): Promise<void> {
    for (const promoted of await this.repository.promoteWaiting(m, organizationId, limit)) {
      this.events.record(m, { type: 'flow_execution.status_changed', execution: promoted, previousStatus: 'queued' });
    }
  }

  /** The event of a status change; a change that keeps the status (re-executing a running run) only wakes waiters. */
  private recordMove(m: EntityManager, before: FlowExecutionRow, after: FlowExecutionRow): void {
    if (before.status === after.status) return this.events.touch(m, after);
    const type = after.status === 'deleted' ? 'flow_execution.deleted' : 'flow_execution.status_changed';
    this.events.record(m, { type, execution: after, previousStatus: before.status });
  }

  private async concurrencyLimit(m: EntityManager, organizationId: string): Promise<number> {
    return (await this.repository.lockOrganization(m, organizationId)) ?? this.config.defaultOrgConcurrencyLimit;
  }
}

function chooseInputTask(inputs: FlowTask[], name: string | null): FlowTask {
  const names = inputs.map((t) => `'${t.name}'`).join(', ');
  if (name !== null) {
    const task = inputs.find((t) => t.name === name);
    if (!task) throw badRequest(`input_task_name '${name}' is not an input task of this flow; its input tasks are ${names}`);
    return task;
  }
  if (inputs.length !== 1) throw badRequest(`input_task_name is required: this flow has several input tasks (${names})`);
  return inputs[0];
}

function splitTag(tag: string): [string, string] {
  const at = tag.indexOf(':');
  return [tag.slice(0, at), tag.slice(at + 1)];
}

export function illegalTransition(from: ExecutionStatus, to: ExecutionStatus): AppError {
  return conflict(`Cannot change status from '${from}' to '${to}'`, { current_status: from, requested_status: to });
}
