import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ExecutionLifecycle } from '../flow-executions/execution-lifecycle';

/** Rows a statement touches, at most. */
export const SWEEP_BATCH = 1000;
/** Batches a sweep runs before it yields to the next tick, so one sweep stays bounded. */
const MAX_BATCHES = 20;

/**
 * TTL retention: every `RETENTION_SWEEP_INTERVAL_S`, on every replica, executions of flows with
 * `settings.ttl.seconds` that have been completed, failed or cancelled for that long are
 * soft-deleted, each with its `flow_execution.deleted` event. Replicas never wait for one another
 * (SKIP LOCKED on the organization and on the rows) and never delete a row twice.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly lifecycle: ExecutionLifecycle,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.config.retentionSweepIntervalSeconds * 1000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One sweep: due executions, a batch at a time, an organization a transaction. Returns how many were deleted. */
  async sweep(): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const due = await this.lifecycle.expired(SWEEP_BATCH);
      const byOrganization = new Map<string, string[]>();
      for (const row of due) byOrganization.set(row.organization_id, [...(byOrganization.get(row.organization_id) ?? []), row.id]);
      let progress = 0;
      // An organization a transaction, in the lock order of every status change (see ExecutionLifecycle).
      for (const [organizationId, ids] of byOrganization) progress += await this.lifecycle.retireExpired(organizationId, ids);
      deleted += progress;
      // A short batch was everything due; no progress means the rest is held by others for now.
      if (due.length < SWEEP_BATCH || progress === 0) break;
    }
    return deleted;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.sweep();
    try {
      const deleted = await this.running;
      if (deleted > 0) this.logger.info({ deleted }, 'retention sweep deleted expired executions');
    } catch (err) {
      this.logger.warn({ err }, 'retention sweep failed');
    } finally {
      this.running = null;
    }
  }
}
