import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import { CommittedEvent, MetricsService } from '../common/metrics/metrics.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { Notifier, Subscription } from '../database/notifier';
import { LOGGER } from '../logging/logger';
import { CHANGES_CHANNEL, EventType } from './event-types';
import { EventLogRepository, EventPage, EventToWrite } from './event-log.repository';

export type { EventPage, RenderedEvent } from './event-log.repository';

/** An event as its writer built it: the log adds its id and time, and nothing else. */
export interface LogEvent {
  type: EventType;
  organizationId: string;
  flowId: string;
  flowExecutionId: string;
  /** What readers see beside `id`, `type` and `occurred_at`. */
  payload: Record<string, unknown>;
  /** The execution's status after the change and before it, for the metrics. */
  status: string;
  previousStatus: string | null;
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

/**
 * The event log: every change of an execution, in commit order per organization, written in the
 * transaction of the change and announced at its commit. It knows nothing of what the events say.
 */
@Injectable()
export class EventLog implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly pending = new WeakMap<EntityManager, Pending>();
  private purgeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly repository: EventLogRepository,
    private readonly notifier: Notifier,
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: MetricsService,
  ) {
    // Payload `<organization_id> <flow_execution_id>`: the organization's feed and the execution's long-polls wake.
    notifier.listen(CHANGES_CHANNEL, {
      notification: (payload) => {
        const [organizationId, executionId] = payload.split(' ');
        notifier.wake(organizationKey(organizationId));
        notifier.wake(executionKey(executionId));
      },
    });
  }

  /**
   * A transaction whose recorded events are written as its last statements, under the
   * organization's ordering lock (see EventLogRepository.append), and announced at commit.
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
  record(m: EntityManager, ...events: LogEvent[]): void {
    if (events.length === 0) return;
    const pending = this.pendingOf(m, events[0].organizationId);
    for (const event of events) {
      if (event.organizationId !== pending.organizationId) throw new Error('one transaction records the events of one organization');
      pending.events.push({ flow_id: event.flowId, flow_execution_id: event.flowExecutionId, type: event.type, payload: event.payload });
      pending.committed.push({ type: event.type, status: event.status, previousStatus: event.previousStatus });
    }
  }

  /**
   * Runs `fn` under a savepoint of the transaction `m`: when it throws, its writes and the events it
   * recorded are undone, the transaction goes on, and the error is rethrown.
   */
  async savepoint<T>(m: EntityManager, fn: () => Promise<T>): Promise<T> {
    const pending = this.pending.get(m);
    if (!pending) throw new Error('savepoints are taken inside EventLog.transaction()');
    const mark = {
      organizationId: pending.organizationId,
      events: pending.events.length,
      committed: pending.committed.length,
      touched: new Set(pending.touched),
    };
    await m.query('SAVEPOINT event_log_item');
    try {
      const result = await fn();
      await m.query('RELEASE SAVEPOINT event_log_item');
      return result;
    } catch (error) {
      await m.query('ROLLBACK TO SAVEPOINT event_log_item');
      pending.organizationId = mark.organizationId;
      pending.events.length = mark.events;
      pending.committed.length = mark.committed;
      pending.touched = mark.touched;
      throw error;
    }
  }

  /**
   * Events a statement wrote in the transaction by itself (change_flow_execution_status appends its
   * own), for the metrics to count once the transaction commits.
   */
  written(m: EntityManager, events: CommittedEvent[]): void {
    const pending = this.pending.get(m);
    if (!pending) throw new Error('events are written inside EventLog.transaction()');
    pending.committed.push(...events);
  }

  /** An execution changed in a way no event describes (e.g. re-executed while running): waiters still wake. */
  touch(m: EntityManager, organizationId: string, executionId: string): void {
    this.pendingOf(m, organizationId).touched.add(executionId);
  }

  /** Interest in one execution's changes (the retrieve endpoint's long-poll). */
  watchExecution(id: string): Subscription {
    return this.notifier.subscribe(executionKey(id));
  }

  /** Interest in any change of the organization's executions (the feed). */
  watchOrganization(id: string): Subscription {
    return this.notifier.subscribe(organizationKey(id));
  }

  /** Events of the organization (of one flow, when given) after the cursor, oldest first, with the retention mark. */
  read(organizationId: string, flowId: string | null, after: bigint, limit: number): Promise<EventPage> {
    return this.repository.page(organizationId, flowId, after, limit);
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

  private pendingOf(m: EntityManager, organizationId: string): Pending {
    const pending = this.pending.get(m);
    if (!pending) throw new Error('events are recorded inside EventLog.transaction()');
    if (pending.organizationId !== null && pending.organizationId !== organizationId) {
      throw new Error('one transaction records the events of one organization');
    }
    pending.organizationId = organizationId;
    return pending;
  }
}

const organizationKey = (id: string) => `organization:${id}`;
const executionKey = (id: string) => `execution:${id}`;
