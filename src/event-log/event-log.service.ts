import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import { AppError, badRequest } from '../common/errors/app-error';
import { LOGGER } from '../logging/logger';
import { CommittedEvent, MetricsService } from '../common/metrics/metrics.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { FlowExecutionRow, toFlowExecutionResponse } from '../flow-executions/dto/flow-execution.dto';
import type { ExecutionStatus } from '../flow-executions/execution-status';
import { FlowsService } from '../flows/flows.service';
import type { TaskExecutionResponseDto } from '../task-executions/dto/task-execution.dto';
import { Notifier, Subscription } from '../database/notifier';
import { FlowEventDto, FlowEventsPageDto, ListFlowEventsQueryDto, toFlowEvent } from '../feed/dto/flow-event.dto';
import { CHANGES_CHANNEL, EventType } from './event-types';
import { EventsRepository, EventToWrite } from './event-log.repository';

export interface NewEvent {
  type: EventType;
  /** The execution as it is after the change. */
  execution: FlowExecutionRow;
  /** The status before, for status_changed and deleted. */
  previousStatus?: ExecutionStatus | null;
  /** The task execution as written, for task_execution.updated. */
  task?: TaskExecutionResponseDto;
}

/** Where a stream of events goes: a Server-Sent Events response, in production. */
export interface EventSink {
  send(event: FlowEventDto): void;
  keepAlive(): void;
  end(): void;
  /** Aborted when the client goes away or the process shuts down. */
  readonly closed: AbortSignal;
}

interface Pending {
  organizationId: string | null;
  events: EventToWrite[];
  touched: Set<string>;
  /** The same events as the metrics count them, once committed. */
  committed: CommittedEvent[];
}

const PURGE_INTERVAL_MS = 60_000;
const PURGE_BATCH = 1_000;
const KEEP_ALIVE_MS = 15_000;
const CURSOR = /^\d{1,18}$/;

@Injectable()
export class EventsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly pending = new WeakMap<EntityManager, Pending>();
  private purgeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly repository: EventsRepository,
    private readonly notifier: Notifier,
    private readonly flows: FlowsService,
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: MetricsService,
  ) {
    // Payload `<organization_id> <flow_execution_id>`: the organization's feed and the execution's long-polls wake.
    notifier.listen(CHANGES_CHANNEL, {
      notification: (payload) => {
        const [organizationId, executionId] = payload.split(' ');
        notifier.wake(`organization:${organizationId}`);
        notifier.wake(`execution:${executionId}`);
      },
    });
  }

  /**
   * A transaction whose recorded events are written as its last statements, under the
   * organization's ordering lock (see EventsRepository.append), and announced at commit.
   */
  async transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    const pending: Pending = { organizationId: null, events: [], touched: new Set(), committed: [] };
    const result = await this.dataSource.transaction(async (m) => {
      this.pending.set(m, pending);
      const result = await fn(m);
      if (pending.organizationId !== null) {
        await this.repository.append(m, pending.organizationId, pending.events, [...pending.touched]);
      }
      return result;
    });
    this.metrics.eventsCommitted(pending.committed);
    return result;
  }

  /** Records events of the transaction `m`, which must come from `transaction()`. */
  record(m: EntityManager, ...events: NewEvent[]): void {
    const pending = this.pendingOf(m, events[0]?.execution.organization_id);
    for (const event of events) {
      pending.events.push({
        flow_id: event.execution.flow_id,
        flow_execution_id: event.execution.id,
        type: event.type,
        payload: {
          flow_execution: toFlowExecutionResponse(event.execution, { includeRunNumber: true }),
          previous_status: event.previousStatus ?? null,
          ...(event.task ? { task_execution: event.task } : {}),
        },
      });
      pending.committed.push({ type: event.type, status: event.execution.status, previousStatus: event.previousStatus ?? null });
    }
  }

  /** An execution changed in a way no event describes (e.g. re-executed while running): waiters still wake. */
  touch(m: EntityManager, execution: Pick<FlowExecutionRow, 'id' | 'organization_id'>): void {
    this.pendingOf(m, execution.organization_id).touched.add(execution.id);
  }

  /** Interest in one execution's changes, for the retrieve endpoint's long-poll. */
  watchExecution(id: string): Subscription {
    return this.notifier.subscribe(`execution:${id}`);
  }

  /** One page of the feed; with `waitSeconds`, an empty page is held until events arrive or the time passes. */
  async page(principal: Principal, query: ListFlowEventsQueryDto, waitSeconds: number | null, signal?: AbortSignal): Promise<FlowEventsPageDto> {
    const scope = await this.scope(principal, query.flow_id, query.after);
    let events = await this.read(scope, query.limit ?? 100);
    if (events.length === 0 && waitSeconds !== null) {
      const subscription = this.notifier.subscribe(`organization:${principal.organizationId}`);
      this.metrics.longPolls.inc();
      try {
        const deadline = Date.now() + waitSeconds * 1000;
        events = await this.read(scope, query.limit ?? 100);
        while (events.length === 0 && !signal?.aborted && !subscription.ended && Date.now() < deadline) {
          await subscription.wait(deadline - Date.now(), signal);
          events = await this.read(scope, query.limit ?? 100);
        }
      } finally {
        this.metrics.longPolls.dec();
        subscription.close();
      }
    }
    const next = events.length > 0 ? events[events.length - 1].id : scope.after.toString();
    return { events, next_cursor: next };
  }

  /**
   * Server-Sent Events: what is after the cursor, then every new event as it commits, until the
   * client goes away. Access and the cursor are checked before the first byte.
   */
  async stream(principal: Principal, query: ListFlowEventsQueryDto, lastEventId: string | undefined, open: () => EventSink): Promise<void> {
    const scope = await this.scope(principal, query.flow_id, lastEventId ?? query.after);
    const limit = query.limit ?? 100;
    const subscription = this.notifier.subscribe(`organization:${principal.organizationId}`);
    let sink: EventSink | null = null;
    this.metrics.sseStreams.inc();
    try {
      let events = await this.read(scope, limit);
      sink = open();
      const streaming = () => !sink!.closed.aborted && !subscription.ended;
      while (streaming()) {
        for (const event of events) sink.send(event);
        if (events.length > 0) scope.after = BigInt(events[events.length - 1].id);
        if (events.length < limit && !(await subscription.wait(KEEP_ALIVE_MS, sink.closed)) && streaming()) sink.keepAlive();
        if (streaming()) events = await this.read(scope, limit);
      }
    } finally {
      this.metrics.sseStreams.dec();
      subscription.close();
      // Shutting down, or a failure mid-stream: the client reconnects with Last-Event-ID.
      if (sink && !sink.closed.aborted) sink.end();
    }
  }

  onApplicationBootstrap(): void {
    const purge = () => this.purgeExpired().catch((err: unknown) => this.logger.warn({ err }, 'event retention sweep failed'));
    this.purgeTimer = setInterval(purge, PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
  }

  /** Removes events older than `EVENT_RETENTION_HOURS`, a batch a statement; safe on every replica at once. */
  async purgeExpired(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.config.eventRetentionHours * 3_600_000);
    let total = 0;
    for (let removed = PURGE_BATCH; removed === PURGE_BATCH; total += removed) {
      removed = await this.repository.purgeOlderThan(cutoff, PURGE_BATCH);
    }
    return total;
  }

  private pendingOf(m: EntityManager, organizationId: string | undefined): Pending {
    const pending = this.pending.get(m);
    if (!pending) throw new Error('events are recorded inside EventsService.transaction()');
    if (organizationId === undefined) return pending;
    if (pending.organizationId !== null && pending.organizationId !== organizationId) {
      throw new Error('one transaction records the events of one organization');
    }
    pending.organizationId = organizationId;
    return pending;
  }

  /** 404/403 for the flow and 400 for a malformed cursor, before any waiting. */
  private async scope(principal: Principal, flowId: string | undefined, cursor: string | undefined): Promise<Scope> {
    if (flowId !== undefined) await this.flows.getExecutable(principal, flowId);
    if (cursor !== undefined && !CURSOR.test(cursor)) {
      throw badRequest(`Malformed cursor '${cursor.slice(0, 40)}': expected the id of an event`);
    }
    return { organizationId: principal.organizationId, flowId: flowId?.toLowerCase() ?? null, after: BigInt(cursor ?? 0) };
  }

  /** The events after the scope's cursor; 410 when retention has removed events the cursor has not seen. */
  private async read(scope: Scope, limit: number): Promise<FlowEventDto[]> {
    const page = await this.repository.page(scope.organizationId, scope.flowId, scope.after, limit);
    if (scope.after > 0n && scope.after < page.purgedThrough) {
      throw new AppError(
        'cursor_expired',
        `The cursor is older than the retained event log (${this.config.eventRetentionHours} hours); start again without one`,
      );
    }
    return page.events.map(toFlowEvent);
  }
}

interface Scope {
  organizationId: string;
  flowId: string | null;
  after: bigint;
}
