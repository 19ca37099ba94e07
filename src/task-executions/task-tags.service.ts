import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import { forbidden, notFound } from '../common/errors/app-error';
import { EventLog } from '../event-log/event-log.service';
import type { FlowExecutionRow } from '../flow-executions/dto/flow-execution.dto';
import { executionEvent } from '../flow-executions/execution-events';
import { accessible } from '../flow-executions/execution-access';
import { ExecutionLifecycle } from '../flow-executions/execution-lifecycle';
import { FlowExecutionsService } from '../flow-executions/flow-executions.service';
import { FlowTaskTagResponseDto, toFlowTaskTagResponse, toTaskExecutionResponse } from './dto/task-execution.dto';
import { TaskExecutionsRepository } from './task-executions.repository';
import {
  FlowTagsQueryDto,
  ListTaskTagsQueryDto,
  PatchFlowTaskTagsRequestDto,
  PatchFlowTaskTagsRequestItemDto,
  PatchFlowTaskTagsResponseDto,
  TagResult,
} from './dto/task-tag.dto';
import { tagKey, TaskTagsRepository } from './task-tags.repository';

@Injectable()
export class TaskTagsService {
  constructor(
    private readonly repository: TaskTagsRepository,
    private readonly executions: FlowExecutionsService,
    private readonly lifecycle: ExecutionLifecycle,
    private readonly tasks: TaskExecutionsRepository,
    private readonly events: EventLog,
  ) {}

  /**
   * Applies the operations in request order, in one transaction. Every execution must exist (404)
   * and be the caller's organization's (403), and every task one of its pinned version (400), or
   * nothing is applied.
   */
  async patch(principal: Principal, dto: PatchFlowTaskTagsRequestDto): Promise<PatchFlowTaskTagsResponseDto> {
    const items = dto.tags.map((item) => ({ ...item, flow_execution_id: item.flow_execution_id.toLowerCase() }));
    const ids = [...new Set(items.map((i) => i.flow_execution_id))];
    return this.events.transaction(async (m) => {
      const executions = await this.lifecycle.shareRuns(m, principal, ids);
      const named = items.map((item, i) => ({ run: executions.get(item.flow_execution_id)!, taskName: item.task_name, at: `tags.${i}.task_name` }));
      await this.executions.knownTasks(named, 'bad_request', m);

      await this.repository.lockTags(m, items);
      const results: TagResult[] = new Array(items.length);
      // A round holds each tag at most once (one statement may not touch a row twice); rounds run in order.
      for (const round of rounds(items)) {
        const adds = round.filter((i) => items[i].operation === 'add');
        const removes = round.filter((i) => items[i].operation === 'remove');
        const added =
          adds.length > 0
            ? await this.repository.add(
                m,
                principal.organizationId,
                adds.map((i) => items[i]),
                principal.subject,
              )
            : new Set();
        const removed =
          removes.length > 0
            ? await this.repository.remove(
                m,
                principal.organizationId,
                removes.map((i) => items[i]),
                principal.subject,
              )
            : new Set();
        for (const i of adds) results[i] = added.has(tagKey(items[i])) ? 'added' : 'already_exists';
        for (const i of removes) results[i] = removed.has(tagKey(items[i])) ? 'removed' : 'not_found';
      }
      const changed = items.filter((_, i) => results[i] === 'added' || results[i] === 'removed');
      await this.recordChanges(m, principal, executions, changed);
      return { tags: results.map((status) => ({ status })) };
    });
  }

  /** A `task_execution.updated` event for the latest attempt of each task whose tags changed (a task not yet run has none). */
  private async recordChanges(
    m: EntityManager,
    principal: Principal,
    executions: Map<string, FlowExecutionRow>,
    changed: { flow_execution_id: string; task_name: string }[],
  ): Promise<void> {
    const pairs = [...new Map(changed.map((c) => [`${c.flow_execution_id}/${c.task_name}`, c])).values()];
    if (pairs.length === 0) return;
    const attempts = await this.repository.latestAttempts(m, pairs);
    const tags = await this.tasks.activeTags(m, principal.organizationId, attempts);
    for (const attempt of attempts) {
      const own = tags.filter((tag) => tag.flow_execution_id === attempt.flow_execution_id && tag.task_name === attempt.task_name);
      const run = executions.get(attempt.flow_execution_id)!;
      const task = toTaskExecutionResponse(attempt, own, { includeCredits: true }, run);
      this.events.record(m, executionEvent('task_execution.updated', run, null, { task_execution: task }));
    }
  }

  async list(principal: Principal, query: ListTaskTagsQueryDto): Promise<FlowTaskTagResponseDto[]> {
    const result = await this.repository.listForExecution(principal.organizationId, query.flow_execution_id.toLowerCase(), query.task_name);
    accessible(principal, result.execution);
    return result.tags.map(toFlowTaskTagResponse);
  }

  /** The flow's distinct active tags as sorted `key:value` strings, at most FLOW_TAGS_LIMIT. */
  async flowTags(principal: Principal, flowId: string, query: FlowTagsQueryDto): Promise<string[]> {
    const result = await this.repository.flowTags(principal.organizationId, flowId, query.task_name);
    if (result.flow === 'missing') throw notFound('Flow');
    if (result.flow === 'foreign') throw forbidden("User doesn't have access to this flow");
    return result.tags;
  }
}

/** Item indexes grouped so that the n-th occurrence of a tag is in round n. */
function rounds(items: PatchFlowTaskTagsRequestItemDto[]): number[][] {
  const seen = new Map<string, number>();
  const result: number[][] = [];
  items.forEach((item, i) => {
    const key = tagKey(item);
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    (result[round] ??= []).push(i);
  });
  return result;
}
