import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { EventLoopUtilization, performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram } from 'prom-client';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { FairScheduler, Refusal, Slot } from './fair-scheduler';

const SLOT = Symbol('admission slot');

/** How often the organizations' budget follows the event loop's utilization (FairScheduler.tick). */
const LOOP_INTERVAL_MS = 100;

type Holder = object & { [SLOT]?: Slot };

/**
 * Gives back the admission slot a request holds, before its response ends: a held request (a
 * long-poll, an SSE stream) calls it once it starts waiting, so that waiting costs nobody a slot
 * (docs/development.md#held-requests). Idempotent; nothing when admission is off or the request held none.
 * Takes the request's `Response` (or anything the guard stored the slot on).
 */
export function releaseAdmission(res: object): void {
  const holder = res as Holder;
  const slot = holder[SLOT];
  if (!slot) return;
  holder[SLOT] = undefined;
  slot.release();
}

/** The process's fair scheduler and its metrics (no organization label: cardinality stays bounded). */
@Injectable()
export class AdmissionService implements OnModuleDestroy {
  readonly scheduler: FairScheduler | null;
  private readonly rejections: Counter<'reason'> | null = null;
  private loopTimer: NodeJS.Timeout | null = null;

  constructor(@Inject(APP_CONFIG) config: AppConfig, metrics: MetricsService) {
    const limits = config.admission;
    if (!limits) {
      this.scheduler = null;
      return;
    }
    const waited = new Histogram({
      name: 'admission_wait_seconds',
      help: 'Time requests that queued for an admission slot waited before they were served',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [metrics.registry],
    });
    const scheduler = new FairScheduler(limits, limits.queueTimeoutMs, (seconds) => waited.observe(seconds));
    this.scheduler = scheduler;
    this.rejections = new Counter({
      name: 'admission_rejections_total',
      help: 'Requests refused by fair admission, by reason (organization_queue_full: 429; queue_full, queue_timeout: 503)',
      labelNames: ['reason'] as const,
      registers: [metrics.registry],
    });
    for (const reason of ['organization_queue_full', 'queue_full', 'queue_timeout'] as const) this.rejections.inc({ reason }, 0);
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [metrics.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('admission_in_use', 'Admission cost units in use (ADMISSION_CONCURRENCY is the most)', () => scheduler.used);
    gauge('admission_queue_depth', 'Requests waiting for an admission slot, all organizations', () => scheduler.queued);
    gauge('admission_queued_organizations', 'Organizations with a request waiting for an admission slot', () => scheduler.queuedOrganizations);
    gauge(
      'admission_organization_budget',
      'Cost units one organization may have in use now (ADMISSION_ORG_CONCURRENCY, less while the event loop is saturated)',
      () => scheduler.organizationBudget,
    );
    if (limits.loopUtilization) {
      let last: EventLoopUtilization = performance.eventLoopUtilization();
      this.loopTimer = setInterval(() => {
        const now = performance.eventLoopUtilization();
        scheduler.tick(performance.eventLoopUtilization(now, last).utilization);
        last = now;
      }, LOOP_INTERVAL_MS).unref();
    }
  }

  onModuleDestroy(): void {
    if (this.loopTimer) clearInterval(this.loopTimer);
  }

  /** Stores the slot on the response and gives it back when the response closes (or at `releaseAdmission`). */
  hold(res: NodeJS.EventEmitter & { destroyed?: boolean }, slot: Slot): void {
    (res as Holder)[SLOT] = slot;
    res.once('close', () => releaseAdmission(res));
    if (res.destroyed) releaseAdmission(res); // the client left while it waited
  }

  refused(reason: Refusal): void {
    this.rejections?.inc({ reason });
  }
}
