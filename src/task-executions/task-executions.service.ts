import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import { EventLog } from '../event-log/event-log.service';
import { keepOutcome, OwnedKey } from '../common/idempotency/idempotency.context';
import { badRequest, conflict, forbidden, notFound } from '../common/errors/app-error';
import type { FlowExecutionRow } from '../flow-executions/dto/flow-execution.dto';
import { accessible } from '../flow-executions/execution-access';
import { executionEvent } from '../flow-executions/execution-events';
import { Change, ChangeOutcome, ExecutionLifecycle } from '../flow-executions/execution-lifecycle';
import { FlowExecutionsService } from '../flow-executions/flow-executions.service';
import { PinnedVersion, unknownTasksError } from '../flow-executions/pinned-tasks';
import { WEBHOOK_RECEIVER } from '../flows/flow-definition';
import { WebhookDataService } from './webhook-data.service';
import { GetTaskExecutionQueryDto, ListTaskExecutionsQueryDto, TASK_LIST_MAX_LIMIT } from './dto/task-execution-query.dto';
import {
  CreateTaskExecutionDto,
  TaskExecutionResponseDto,
  TaskExecutionsPage,
  TaskExecutionWithTagsResponseDto,
  toTaskExecutionResponse,
  UpdateTaskExecutionDto,
} from './dto/task-execution.dto';
import { AddTaskStatusRequestDto, FINISHED_TASK_STATUSES, FlowTaskStatusResponseDto, ProcessingStatus, toFlowTaskStatusResponse } from './dto/task-status.dto';
import { HEARTBEAT_DETAILS_MAX_BYTES, TaskHeartbeatRequestDto, TaskHeartbeatResponseDto, toTaskHeartbeatResponse } from './dto/task-heartbeat.dto';
import { RequestValidationError } from '../common/validation/validation-error';
import { RawJsonBytes } from '../common/http/raw-json';
import { parseTags } from './task-tags';
import type { TaskExecutionTagEntity } from './task-execution-tag.entity';
import type { TaskExecutionRow } from './task-execution.entity';
import { LocatedTaskExecution, TaskExecutionChanges, TaskExecutionsRepository, TaskKey, TimedOutTask } from './task-executions.repository';

interface Written {
  row: TaskExecutionRow;
  tags: TaskExecutionTagEntity[];
}

/** Writes answer with the stored credits: the caller just reported them. */
const WRITE_RESPONSE = { includeCredits: true };

@Injectable()
export class TaskExecutionsService {
  constructor(
    private readonly repository: TaskExecutionsRepository,
    private readonly executions: FlowExecutionsService,
    private readonly lifecycle: ExecutionLifecycle,
    private readonly events: EventLog,
    private readonly webhookData: WebhookDataService,
    private readonly dataSource: DataSource,
  ) {}

  /** A worker reports a new attempt of a task; a duplicate (execution, task, idx) is a 409. */
  async create(principal: Principal, dto: CreateTaskExecutionDto, idempotencyKey?: OwnedKey): Promise<TaskExecutionResponseDto> {
    const parent = await this.executions.getRow(principal, dto.flow_execution_id.toLowerCase(), false);
    const pinned = (await this.executions.knownTasks([{ run: parent, taskName: dto.task_name, at: 'task_name' }])).get(parent.id)!;
    // Webhook data may be waiting for this task: applying it can resume the run, which takes the run's locks.
    const receiver = pinned.task(dto.task_name)?.task_executor_name === WEBHOOK_RECEIVER;
    const key = keyOf(parent, dto);
    try {
      const written = await this.events.transaction(async (m): Promise<TaskExecutionResponseDto> => {
        const run = receiver ? await this.lifecycle.lockRun(m, principal, parent.id) : null;
        if (!run) await this.lifecycle.shareRun(m, parent.id);
        const inserted = await this.repository.insert(m, parent.organization_id, key, changesOf(dto), principal.subject);
        const tags = await this.afterWrite(m, principal, parent, dto, false);
        const applied = run && (await this.webhookData.applyPending(m, principal, run, inserted));
        if (!applied) this.recordTasks(m, parent, [inserted], tags);
        const answer = toTaskExecutionResponse(applied || inserted, tags, WRITE_RESPONSE, parent);
        await keepOutcome(m, idempotencyKey, answer);
        return answer;
      });
      return written;
    } catch (error) {
      if (!isUniqueViolation(error, 'task_executions_task_uq')) throw error;
      throw conflict(`A task execution of task '${key.taskName}' with task_execution_idx ${key.taskExecutionIdx} already exists in this flow execution`, {
        flow_execution_id: key.flowExecutionId,
        task_name: key.taskName,
        task_execution_idx: key.taskExecutionIdx,
      });
    }
  }

  /**
   * Applies the given fields to the task execution named by (flow_execution_id, task_name,
   * task_execution_idx). A new output on a completed one is an edit: it is marked edited, the
   * latest attempts of its downstream tasks stale, and a completed run becomes edited. With
   * `executeFlow`, the stale tasks are then re-executed.
   */
  async update(principal: Principal, dto: UpdateTaskExecutionDto, executeFlow: boolean): Promise<TaskExecutionResponseDto> {
    const parent = await this.executions.getRow(principal, dto.flow_execution_id.toLowerCase(), false);
    const pinned = (await this.executions.knownTasks([{ run: parent, taskName: dto.task_name, at: 'task_name' }])).get(parent.id)!;

    // Most updates are a worker's progress and need only the task's row; an edit, or a re-execution
    // in the same transaction, also needs the run's locks (organization, then execution, then tasks).
    const attempt = (withRunLocks: boolean) =>
      this.events.transaction(async (m) => {
        const written = await this.applyUpdate(m, principal, parent, pinned, dto, withRunLocks);
        if (written && executeFlow && (await this.repository.hasStale(m, parent.id))) {
          await this.executions.reexecute(principal, parent.id, true, { within: m });
          written.row = await this.repository.reload(m, written.row.id);
        }
        return written;
      });
    const written = (!executeFlow && (await attempt(false))) || (await attempt(true));
    if (!written) throw new Error('an update with the run locks is never deferred');
    return toTaskExecutionResponse(written.row, written.tags, WRITE_RESPONSE, parent);
  }

  /**
   * A worker's batch of task status reports, recorded as history. A task awaiting input moves a
   * running execution to awaiting_input in the same transaction.
   */
  async addStatuses(principal: Principal, id: string, dto: AddTaskStatusRequestDto): Promise<FlowTaskStatusResponseDto[]> {
    // One statement: the run and the names checked, the run's change made by the lifecycle's rules, the statuses recorded.
    const change: Change = { cause: 'task_awaiting_input' };
    const awaiting = dto.statuses.some((s) => s.status === 'awaiting_input') ? this.lifecycle.statusChange(principal, id, change) : null;
    const report = await this.repository.report(principal.organizationId, id, dto.statuses, awaiting);
    const run = accessible(principal, report.run);
    if (run.task_names !== null) {
      throw unknownTasksError(
        dto.statuses.map((s, i) => ({ run, taskName: s.task_name, at: `statuses.${i}.task_name` })).filter((n) => !run.task_names!.includes(n.taskName)),
      );
    }
    if (awaiting) {
      const changes = report.changes.map(({ outcome, previous_status, refused_to, ...row }) => ({
        outcome: outcome as ChangeOutcome,
        previous_status,
        refused_to,
        row: row.id === null ? undefined : (row as FlowExecutionRow),
      }));
      this.lifecycle.settle(principal, change, changes);
    }
    return report.rows.map(toFlowTaskStatusResponse);
  }

  /**
   * A worker's heartbeat (docs/api.md#heartbeats): one statement, no event. Answers when the task
   * times out next and whether its run is being cancelled; a finished task is a 409.
   */
  async heartbeat(principal: Principal, id: string, dto: TaskHeartbeatRequestDto | undefined): Promise<TaskHeartbeatResponseDto> {
    const details = dto?.details;
    if (details !== undefined && Buffer.byteLength(JSON.stringify(details)) > HEARTBEAT_DETAILS_MAX_BYTES) {
      throw new RequestValidationError([
        { loc: ['body', 'details'], msg: `details must be at most ${HEARTBEAT_DETAILS_MAX_BYTES} bytes of JSON`, type: 'too_large', input: null },
      ]);
    }
    const row = await this.repository.heartbeat(id, principal.organizationId, details);
    if (!row || row.run_status === 'deleted' || row.processing_status === 'deleted') throw notFound('Task execution');
    if (row.organization_id !== principal.organizationId) throw forbidden('You do not have permission to access this task execution');
    if (!row.beaten) {
      const status = FINISHED_TASK_STATUSES.includes(row.processing_status as ProcessingStatus) ? row.processing_status : 'finished';
      throw conflict(`Task execution is ${status}: a finished task takes no heartbeats`, { processing_status: status });
    }
    return toTaskHeartbeatResponse(id, row);
  }

  async get(principal: Principal, id: string, query: GetTaskExecutionQueryDto): Promise<TaskExecutionResponseDto> {
    const row = this.accessible(principal, await this.repository.findById(id));
    const tags = await this.repository.activeTags(this.dataSource.manager, row.organization_id, [row]);
    return toTaskExecutionResponse(row, tags, { includeCredits: query.include_credits === true }, row);
  }

  /**
   * Newest first, always within the caller's organization, at most `limit`; a named flow execution
   * must be accessible, and `after` must name a task execution of the organization (400 otherwise).
   */
  async list(principal: Principal, query: ListTaskExecutionsQueryDto): Promise<TaskExecutionsPage> {
    const flowExecutionId = query.flow_execution_id?.toLowerCase();
    if (flowExecutionId !== undefined) await this.executions.getRow(principal, flowExecutionId, false);
    const limit = query.limit ?? TASK_LIST_MAX_LIMIT;
    const { cursorFound, page, more } = await this.repository.list({
      organizationId: principal.organizationId,
      flowExecutionId,
      taskName: query.task_name,
      taskExecutionIdx: query.task_execution_idx,
      after: query.after?.toLowerCase(),
      limit,
      includeCredits: query.include_credits === true,
    });
    if (!cursorFound) throw badRequest('after must be the id of a task execution of this organization', [`after: unknown task execution '${query.after}'`]);
    // The items' JSON as PostgreSQL wrote it, spliced into the answer unparsed (docs/api.md#event-loop-budget).
    return {
      body: { task_executions: new RawJsonBytes(page.json) as unknown as TaskExecutionWithTagsResponseDto[] },
      nextCursor: more ? page.lastId : null,
    };
  }

  /** Runs with a running task whose timeout is due (docs/api.md#timeouts), soonest first. */
  dueRuns(limit: number): Promise<{ organization_id: string; id: string }[]> {
    return this.repository.findDueRuns(limit);
  }

  /** Tasks whose timeout passed more than `graceMs` ago, at most `cap`. */
  overdue(graceMs: number, cap: number): Promise<number> {
    return this.repository.countOverdue(graceMs, cap);
  }

  /**
   * Fails the runs' running tasks whose timeout is due, each with its `task_execution.timed_out`
   * event, in the sweep's transaction (the runs' locks held); answers them by run.
   */
  async timeOutTasks(m: EntityManager, runs: FlowExecutionRow[]): Promise<Map<string, TimedOutTask[]>> {
    const byRun = new Map<string, TimedOutTask[]>();
    if (runs.length === 0) return byRun;
    const rows = await this.repository.timeOutDue(
      m,
      runs.map((run) => run.id),
    );
    if (rows.length === 0) return byRun;
    for (const row of rows) byRun.set(row.flow_execution_id, [...(byRun.get(row.flow_execution_id) ?? []), row]);
    const tags = await this.repository.activeTags(m, runs[0].organization_id, rows);
    // A deleted run's tasks time out too (or they would stay due for ever), without an event: the run reads as gone.
    for (const run of runs.filter((r) => r.status !== 'deleted')) {
      for (const { kind, ...row } of byRun.get(run.id) ?? []) {
        const own = tags.filter((tag) => tag.flow_execution_id === row.flow_execution_id && tag.task_name === row.task_name);
        const task_execution = toTaskExecutionResponse(row, own, WRITE_RESPONSE, run);
        this.events.record(m, executionEvent('task_execution.timed_out', run, null, { task_execution, reason: kind }));
      }
    }
    return byRun;
  }

  /** `null` when the update is an edit but the run's locks are not held: the caller tries again with them. */
  private async applyUpdate(
    m: EntityManager,
    principal: Principal,
    parent: FlowExecutionRow,
    pinned: PinnedVersion,
    dto: UpdateTaskExecutionDto,
    withRunLocks: boolean,
  ): Promise<Written | null> {
    // A run's status change takes the run's locks first (organization, then run), then its tasks'.
    const locked = withRunLocks ? await this.lifecycle.lockRun(m, principal, parent.id) : null;
    if (!locked) await this.lifecycle.shareRun(m, parent.id);
    const current = await this.repository.lockByKey(m, parent.organization_id, keyOf(parent, dto), dto.output);
    if (!current) throw notFound('Task execution');
    if (dto.id !== undefined && dto.id.toLowerCase() !== current.id) {
      throw badRequest('id does not match the task execution named by flow_execution_id, task_name and task_execution_idx');
    }
    const edit = current.processing_status === 'completed' && dto.output !== undefined && current.output_changed;
    if (edit && !locked) return null;

    const changes: TaskExecutionChanges = { ...changesOf(dto), edited_status: edit ? 'edited_not_reexecuted' : undefined };
    const row = await this.repository.update(m, current.id, changes, principal.subject);
    const tags = await this.afterWrite(m, principal, parent, dto, true);
    this.recordTasks(m, locked?.row ?? parent, [row], tags);
    if (edit && locked) {
      const downstream = pinned.downstream(dto.task_name);
      const stale = downstream.length > 0 ? await this.repository.markLatestStale(m, parent.id, downstream) : [];
      this.recordTasks(m, locked.row, stale, await this.repository.activeTags(m, parent.organization_id, stale));
      await this.lifecycle.apply(m, locked, { cause: 'task_edited' }, principal);
    }
    return { row, tags };
  }

  /** A `task_execution.updated` event for each written task execution, with its active tags. */
  private recordTasks(m: EntityManager, execution: FlowExecutionRow, rows: TaskExecutionRow[], tags: TaskExecutionTagEntity[]): void {
    for (const row of rows) {
      const own = tags.filter((tag) => tag.flow_execution_id === row.flow_execution_id && tag.task_name === row.task_name);
      this.events.record(
        m,
        executionEvent('task_execution.updated', execution, null, { task_execution: toTaskExecutionResponse(row, own, WRITE_RESPONSE, execution) }),
      );
    }
  }

  /** Tags and the terminal status history entry, in the writer's transaction; answers the task's active tags. */
  private async afterWrite(
    m: EntityManager,
    principal: Principal,
    parent: FlowExecutionRow,
    dto: CreateTaskExecutionDto | UpdateTaskExecutionDto,
    replaceTags: boolean,
  ): Promise<TaskExecutionTagEntity[]> {
    if (dto.tags != null) {
      await this.repository.saveTags(m, parent.organization_id, parent.id, dto.task_name, parseTags(dto.tags), principal.subject, replaceTags);
    }
    if (dto.terminal_task_status != null) {
      await this.repository.insertTaskStatuses(m, parent, [{ task_name: dto.task_name, status: dto.terminal_task_status }]);
    }
    return this.repository.activeTags(m, parent.organization_id, [{ flow_execution_id: parent.id, task_name: dto.task_name }]);
  }

  /** The one place that decides 404 versus 403 for a task execution; a deleted run hides its tasks. */
  private accessible(principal: Principal, row: LocatedTaskExecution | undefined): LocatedTaskExecution {
    if (!row || row.parent_status === 'deleted' || row.processing_status === 'deleted') throw notFound('Task execution');
    if (row.organization_id !== principal.organizationId) {
      throw forbidden('You do not have permission to access this task execution');
    }
    return row;
  }
}

/** The fields present in the body; absent ones stay `undefined` and are left alone. */
export function changesOf(dto: CreateTaskExecutionDto | UpdateTaskExecutionDto): TaskExecutionChanges {
  return {
    processing_status: dto.processing_status,
    input: dto.input,
    output: dto.output,
    error: dto.error,
    source_task_executions: dto.source_task_executions,
    started_at: dto.started_at,
    completed_at: dto.completed_at,
    credits: dto.credits,
  };
}

function keyOf(parent: FlowExecutionRow, dto: CreateTaskExecutionDto | UpdateTaskExecutionDto): TaskKey {
  return { flowExecutionId: parent.id, taskName: dto.task_name, taskExecutionIdx: dto.task_execution_idx };
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = error.driverError as { code?: string; constraint?: string };
  return driverError.code === '23505' && driverError.constraint === constraint;
}
