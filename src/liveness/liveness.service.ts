import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Principal } from '../common/auth/principal';
import { MetricsService } from '../common/metrics/metrics.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventLog } from '../event-log/event-log.service';
import { ExecutionLifecycle } from '../flow-executions/execution-lifecycle';
import { LOGGER } from '../logging/logger';
import { TaskExecutionsService } from '../task-executions/task-executions.service';

/** Due rows read per query. */
export const SWEEP_BATCH = 1000;
/** Batches a sweep runs before it yields to the next tick, so one sweep stays bounded. */
const MAX_BATCHES = 20;
/** Runs a transaction times out: the organization's lock is held no longer than that takes. */
const RUNS_PER_TRANSACTION = 100;
/** Overdue rows counted at most, per table. */
const OVERDUE_CAP = 100_000;

/**
 * Timeouts (docs/api.md#timeouts): every `LIVENESS_SWEEP_INTERVAL_MS`, on every replica, runs and
 * tasks whose due time (kept in the database by the writes, see the timeout_at triggers) has
 * passed are timed out through the lifecycle's `timeout` cause: due tasks fail with their
 * `task_execution.timed_out` event, the run fails (or ends cancelled), its slot goes to the oldest
 * waiting run. Replicas never wait for one another (SKIP LOCKED on the organization, the run and
 * the tasks) and re-check each due time under the locks, so every timeout fires exactly once.
 */
@Injectable()
export class LivenessService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly lifecycle: ExecutionLifecycle,
    private readonly tasks: TaskExecutionsService,
    private readonly events: EventLog,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.config.livenessSweepIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One sweep: due runs a batch at a time, an organization's share a transaction. Returns how many runs it timed out. */
  async sweep(): Promise<number> {
    const started = process.hrtime.bigint();
    const fired = new Map<string, number>();
    let total = 0;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const [runs, tasks] = await Promise.all([this.lifecycle.due(SWEEP_BATCH), this.tasks.dueRuns(SWEEP_BATCH)]);
      const byOrganization = new Map<string, Set<string>>();
      for (const { organization_id, id } of [...runs, ...tasks]) {
        byOrganization.set(organization_id, (byOrganization.get(organization_id) ?? new Set()).add(id));
      }
      let progress = 0;
      for (const [organizationId, ids] of byOrganization) {
        const sorted = [...ids].sort();
        for (let i = 0; i < sorted.length; i += RUNS_PER_TRANSACTION) {
          progress += await this.fire(organizationId, sorted.slice(i, i + RUNS_PER_TRANSACTION), fired);
        }
      }
      total += progress;
      // Short batches were everything due; no progress means the rest is held by others for now.
      if ((runs.length < SWEEP_BATCH && tasks.length < SWEEP_BATCH) || progress === 0) break;
    }
    const grace = this.config.livenessSweepIntervalMs;
    const [runsOverdue, tasksOverdue] = await Promise.all([this.lifecycle.overdue(grace, OVERDUE_CAP), this.tasks.overdue(grace, OVERDUE_CAP)]);
    this.metrics.livenessSwept(Number(process.hrtime.bigint() - started) / 1e9, fired, runsOverdue + tasksOverdue);
    return total;
  }

  /**
   * Times out what is due among the organization's runs `ids`, in one transaction that never waits:
   * an organization, run or task another transaction holds is skipped (the next sweep comes back).
   * Adds the fired timeouts by kind to `fired` once committed; answers how many runs it handled.
   */
  private async fire(organizationId: string, ids: string[], fired: Map<string, number>): Promise<number> {
    const kinds: string[] = [];
    const handled = await this.events.transaction(async (m) => {
      const slots = await this.lifecycle.tryLockOrganization(m, organizationId);
      if (!slots) return 0;
      const by = livenessPrincipal(organizationId);
      const runs = await this.lifecycle.tryLockDueRuns(m, slots, ids);
      const timedOut = await this.tasks.timeOutTasks(
        m,
        runs.map((run) => run.locked.row),
      );
      let n = 0;
      for (const run of runs) {
        const tasks = timedOut.get(run.locked.row.id) ?? [];
        const reason = tasks[0]?.kind ?? run.dueReason;
        if (!reason) continue;
        kinds.push(...(tasks.length > 0 ? tasks.map((task) => task.kind) : [reason]));
        await this.lifecycle.apply(m, run.locked, { cause: 'timeout', reason }, by, { deferAdmission: true });
        n++;
      }
      if (n > 0) await this.lifecycle.admitWaiting(m, slots);
      return n;
    });
    for (const kind of kinds) fired.set(kind, (fired.get(kind) ?? 0) + 1);
    return handled;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.sweep();
    try {
      const timedOut = await this.running;
      if (timedOut > 0) this.logger.info({ timed_out: timedOut }, 'liveness sweep timed out runs');
    } catch (err) {
      this.logger.warn({ err }, 'liveness sweep failed');
    } finally {
      this.running = null;
    }
  }
}

/** The sweep as the author of its changes (`modified_by: liveness`); its role is never consulted (the timeout cause needs no permission). */
function livenessPrincipal(organizationId: string): Principal {
  return { subject: 'liveness', organizationId, role: 'backoffice', credential: 'jwt' };
}
