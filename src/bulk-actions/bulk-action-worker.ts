import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import { isRole } from '../common/auth/permissions';
import { AppError } from '../common/errors/app-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventLog } from '../event-log/event-log.service';
import { Change, ExecutionLifecycle, RunHead } from '../flow-executions/execution-lifecycle';
import { FlowExecutionsService } from '../flow-executions/flow-executions.service';
import { LOGGER } from '../logging/logger';
import type { BulkActionRow } from './dto/bulk-action.dto';
import { BulkActionsRepository, ItemOutcomeToWrite, PendingItem } from './bulk-actions.repository';
import { completedEvent } from './bulk-action-events';

const IDLE_POLL_MS = 500;
const OUTAGE_BACKOFF_MAX_MS = 5_000;

/**
 * Acts on bulk actions' frozen runs, on every replica: each batch is one transaction that claims
 * the oldest unfinished action (`FOR UPDATE SKIP LOCKED`), acts on its next pending runs through
 * the lifecycle owner (the single-run endpoints' rules and events), and writes each run's outcome
 * and the counters in that same transaction. A crash loses the batch whole, so no run is acted on
 * twice; the next claim, on any replica, takes it up again.
 */
@Injectable()
export class BulkActionWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private loop: Promise<void> | null = null;
  private stopped = false;
  private timer: { resolve: () => void; handle: NodeJS.Timeout } | null = null;

  constructor(
    private readonly repository: BulkActionsRepository,
    private readonly lifecycle: ExecutionLifecycle,
    private readonly executions: FlowExecutionsService,
    private readonly events: EventLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.bulkActions.worker) this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
  }

  /** Work was queued in this process: look now rather than at the next poll. */
  wake(): void {
    if (!this.timer) return;
    clearTimeout(this.timer.handle);
    this.timer.resolve();
  }

  private async run(): Promise<void> {
    let backoff = IDLE_POLL_MS;
    while (!this.stopped) {
      try {
        const worked = await this.batch();
        backoff = IDLE_POLL_MS;
        if (worked) continue;
        await this.sleep(IDLE_POLL_MS);
      } catch (err) {
        this.logger.warn({ err }, 'bulk action worker: a batch failed; it is retried');
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, OUTAGE_BACKOFF_MAX_MS);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const handle = setTimeout(() => {
        this.timer = null;
        resolve();
      }, ms);
      handle.unref();
      this.timer = {
        handle,
        resolve: () => {
          this.timer = null;
          resolve();
        },
      };
    });
  }

  /** One batch of one action, in one transaction; false when no action waits. */
  async batch(): Promise<boolean> {
    return this.events.transaction(async (m) => {
      const action = await this.repository.claim(m);
      if (!action) return false;
      const items = await this.repository.pending(m, action.id, this.config.bulkActions.batchSize);
      const principal = actingPrincipal(action);
      const change = await this.changeOf(action, principal);
      if (!change) {
        const failed = await this.repository.advance(m, action.id, 0, 0, 'failed');
        this.events.record(m, completedEvent(failed));
        return true;
      }
      const outcomes =
        action.action === 'cancel' || action.action === 'delete'
          ? await this.actTogether(m, principal, items, { cause: action.action }, action)
          : await this.actEach(m, principal, items, change, action);
      await this.repository.recordOutcomes(m, action.id, outcomes);
      const succeeded = outcomes.filter((o) => o.outcome === 'succeeded').length;
      const done = items.length < this.config.bulkActions.batchSize || (await this.repository.pending(m, action.id, 1)).length === 0;
      const row = await this.repository.advance(m, action.id, succeeded, outcomes.length - succeeded, done ? 'completed' : 'running');
      if (done) this.events.record(m, completedEvent(row));
      return true;
    });
  }

  /** The lifecycle change of the action; null when it cannot proceed (a re-execution of a flow now gone). */
  private async changeOf(action: BulkActionRow, principal: Principal): Promise<Change | null> {
    switch (action.action) {
      case 'cancel':
        return { cause: 'cancel' };
      case 'delete':
        return { cause: 'delete' };
      case 'redrive':
        return { cause: 'redrive', tasks: null };
      case 're_execute':
        try {
          return { cause: 're_execute', flowVersion: await this.executions.latestVersion(principal, action.flow_id), onlyStale: false };
        } catch (err) {
          if (err instanceof AppError) return null;
          throw err;
        }
    }
  }

  /**
   * A cancel or a delete of the batch's runs in one statement (change_flow_execution_status for each,
   * under one savepoint): each run's answer is its outcome. Should the statement fail whole, run by run.
   */
  private async actTogether(
    m: EntityManager,
    principal: Principal,
    items: PendingItem[],
    change: Change & { cause: 'cancel' | 'delete' },
    action: BulkActionRow,
  ): Promise<ItemOutcomeToWrite[]> {
    let answers: (RunHead | AppError)[];
    try {
      const ids = items.map((item) => item.flow_execution_id);
      answers = await this.events.savepoint(m, () => this.lifecycle.changeEach(m, principal, ids, change));
    } catch (err) {
      this.logger.warn({ err, bulkActionId: action.id }, 'bulk action: the batch in one statement failed; acting run by run');
      return this.actEach(m, principal, items, change, action);
    }
    return items.map((item, i) => {
      const answer = answers[i];
      return { seq: item.seq, ...(answer instanceof AppError ? refusedOutcome(answer, action) : SUCCEEDED) };
    });
  }

  /** Run by run, each under a savepoint of its own. */
  private async actEach(m: EntityManager, principal: Principal, items: PendingItem[], change: Change, action: BulkActionRow): Promise<ItemOutcomeToWrite[]> {
    const outcomes: ItemOutcomeToWrite[] = [];
    for (const item of items) outcomes.push({ seq: item.seq, ...(await this.act(m, principal, item.flow_execution_id, change, action)) });
    return outcomes;
  }

  /** One run, under a savepoint: a refusal (409, a run deleted since) is its outcome, and the batch goes on. */
  private async act(m: EntityManager, principal: Principal, id: string, change: Change, action: BulkActionRow): Promise<Outcome> {
    try {
      await this.events.savepoint(m, () => this.lifecycle.change(principal, id, change, m));
      return SUCCEEDED;
    } catch (err) {
      if (err instanceof AppError) return refusedOutcome(err, action);
      this.logger.error({ err, bulkActionId: action.id, flowExecutionId: id }, 'bulk action: acting on a run failed');
      return { outcome: 'failed', error: { code: 'internal_error', message: 'The action failed on this run' } };
    }
  }
}

type Outcome = Omit<ItemOutcomeToWrite, 'seq'>;
const SUCCEEDED: Outcome = { outcome: 'succeeded', error: null };

/** A run the lifecycle refused (409, 404): deleting a run deleted since is done, as DELETE answers 204 again. */
function refusedOutcome(err: AppError, action: BulkActionRow): Outcome {
  if (action.action === 'delete' && err.code === 'not_found') return SUCCEEDED;
  return { outcome: 'failed', error: { code: err.code, message: err.message } };
}

/** The action acts as the caller who created it (who had the permission then). */
function actingPrincipal(action: BulkActionRow): Principal {
  return {
    subject: action.created_by,
    organizationId: action.organization_id,
    role: isRole(action.created_by_role) ? action.created_by_role : 'worker',
    credential: 'jwt',
  };
}
