import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import { badRequest, conflict } from '../common/errors/app-error';
import { RequestValidationError } from '../common/validation/validation-error';
import type { FlowExecutionRow } from '../flow-executions/dto/flow-execution.dto';
import type { ExecutionStatus } from '../flow-executions/execution-status';
import { ExecutionLifecycle, LockedRun } from '../flow-executions/execution-lifecycle';
import { executionEvent } from '../flow-executions/execution-events';
import { FlowExecutionsService } from '../flow-executions/flow-executions.service';
import { InputValidator } from '../flow-executions/input-validator';
import type { PinnedVersion } from '../flow-executions/pinned-tasks';
import { EventLog } from '../event-log/event-log.service';
import { FlowTask, outputModelOf, WEBHOOK_RECEIVER } from '../flows/flow-definition';
import { toTaskExecutionResponse } from './dto/task-execution.dto';
import type { TaskExecutionRow } from './task-execution.entity';
import { TaskExecutionsRepository } from './task-executions.repository';
import { toWebhookDataAck, WebhookDataAckResponseDto, WebhookDataCreateRequestDto } from './dto/webhook-data.dto';
import { StoredWebhookData, TaskAttempt, WebhookDataRepository } from './webhook-data.repository';

/** Runs that take no more data: the spec's "already finished". */
const FINISHED: readonly ExecutionStatus[] = ['completed', 'failed', 'cancel_requested', 'cancelled', 'stale', 'edited'];
/** Task executions that data can still complete. */
const LIVE = ['queued', 'running', 'awaiting_input'];

@Injectable()
export class WebhookDataService {
  constructor(
    private readonly repository: WebhookDataRepository,
    private readonly executions: FlowExecutionsService,
    private readonly lifecycle: ExecutionLifecycle,
    private readonly tasks: TaskExecutionsRepository,
    private readonly inputs: InputValidator,
    private readonly events: EventLog,
  ) {}

  /**
   * Stores the data for a webhook_receiver task, first write wins. When the task has a live
   * execution it completes with the data at once (and a run awaiting input on it runs again);
   * otherwise the data waits for the task's execution to be created.
   */
  async submit(principal: Principal, id: string, dto: WebhookDataCreateRequestDto): Promise<WebhookDataAckResponseDto> {
    const row = await this.executions.getRow(principal, id, false);
    await this.checkData(row, dto);
    return this.events.transaction(async (m) => {
      const run = await this.lifecycle.lockRun(m, principal, id);
      if (run.row.flow_version !== row.flow_version) await this.checkData(run.row, dto);
      const stored = await this.repository.findForTask(m, id, dto.task_name, dto.data);
      if (stored?.same) return toWebhookDataAck(stored.id, 'duplicate');
      if (stored) {
        throw conflict(`Different data was already stored for task '${dto.task_name}' of this flow execution: the first delivery wins`);
      }
      if (FINISHED.includes(run.row.status)) throw conflict(`The flow execution has already finished (status '${run.row.status}')`);
      const attempt = await this.repository.latestAttempt(m, id, dto.task_name);
      if (attempt && !LIVE.includes(attempt.processing_status)) {
        throw conflict(`Task '${dto.task_name}' has already finished in this flow execution (processing_status '${attempt.processing_status}')`);
      }
      const data = { organizationId: run.row.organization_id, flowExecutionId: id, taskName: dto.task_name, data: dto.data, receivedBy: principal.subject };
      const storedId = await this.repository.insert(m, data);
      if (attempt) await this.apply(m, principal, run, attempt, { id: storedId, data: dto.data, received_by: principal.subject });
      return toWebhookDataAck(storedId, 'received');
    });
  }

  /**
   * A task execution just created for a webhook_receiver task: data stored before it existed
   * completes it now. Needs the run's locks (ExecutionLifecycle.lockRun) and an event log transaction;
   * records the task's event itself. The completed row, or null when nothing applied.
   */
  async applyPending(m: EntityManager, principal: Principal, run: LockedRun, created: TaskExecutionRow): Promise<TaskExecutionRow | null> {
    const stored = await this.repository.findForTask(m, run.row.id, created.task_name);
    if (!stored || stored.task_execution_id !== null) return null;
    const attempt = await this.repository.latestAttempt(m, run.row.id, created.task_name);
    if (attempt?.id !== created.id || !LIVE.includes(attempt.processing_status)) return null;
    return this.apply(m, principal, run, attempt, stored);
  }

  /** Completes the task with the data; a run awaiting input on it runs again. Events: the task's, then the run's. */
  private async apply(
    m: EntityManager,
    principal: Principal,
    run: LockedRun,
    attempt: TaskAttempt,
    stored: Pick<StoredWebhookData, 'id' | 'data' | 'received_by'>,
  ): Promise<TaskExecutionRow> {
    const task = await this.repository.complete(m, attempt.id, stored.data, stored.received_by);
    await this.repository.markApplied(m, stored.id, attempt.id);
    await this.tasks.insertTaskStatuses(m, run.row, [{ task_name: attempt.task_name, status: 'completed' }]);
    const tags = await this.tasks.activeTags(m, run.row.organization_id, [task]);
    this.events.record(
      m,
      executionEvent('task_execution.updated', run.row, null, { task_execution: toTaskExecutionResponse(task, tags, { includeCredits: true }, run.row) }),
    );
    // A run awaiting input on this task runs again.
    const waiting = attempt.processing_status === 'awaiting_input' || attempt.reported_status === 'awaiting_input';
    if (waiting) await this.lifecycle.apply(m, run, { cause: 'webhook_data' }, principal);
    return task;
  }

  /** 404 for a task the pinned version lacks, 400 for one that is no webhook_receiver, 422 for data its output model refuses. */
  private async checkData(row: FlowExecutionRow, dto: WebhookDataCreateRequestDto): Promise<void> {
    const pinned = await this.executions.knownTasks([{ run: row, taskName: dto.task_name, at: 'task_name' }], 'not_found');
    const analysis = pinned.get(row.id)!;
    const task = analysis.task(dto.task_name)!;
    if (task.task_executor_name !== WEBHOOK_RECEIVER) {
      throw badRequest(`Task '${dto.task_name}' is not a ${WEBHOOK_RECEIVER} task (its executor is '${task.task_executor_name}')`);
    }
    const issues = await this.outputIssues(analysis, task, dto.data);
    if (issues.length > 0) throw new RequestValidationError(issues);
  }

  private async outputIssues(analysis: PinnedVersion, task: FlowTask, data: unknown) {
    let model: object | undefined;
    try {
      model = outputModelOf(task);
    } catch (error) {
      // Flows saved before fields were validated may hold a model that is not one.
      throw badRequest(`Task '${task.name}' has no valid output model: ${(error as Error).message}`);
    }
    return model ? this.inputs.issues(analysis.schema(`${task.name}:output`, model), data, ['body', 'data']) : [];
  }
}
