import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { LOGGER } from '../logging/logger';
import { traceHeaders } from '../common/http/trace-context';
import { MetricsService } from '../common/metrics/metrics.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { renderEvent } from '../event-log/event-types';
import { Notifier, Subscription } from '../database/notifier';
import { nextAttemptAt } from './retry-schedule';
import { WebhookSender } from './webhook-sender';
import { ClaimedDelivery, DELIVERIES_CHANNEL, WebhooksRepository } from './webhooks.repository';

const IDLE_POLL_MS = 1_000;
const MIN_POLL_MS = 20;
const OUTAGE_BACKOFF_MIN_MS = 100;
const OUTAGE_BACKOFF_MAX_MS = 5_000;
// A lease outlives the attempt's timeout by this much before another replica may take the delivery over.
const LEASE_MARGIN_MS = 2_000;
const PURGE_INTERVAL_MS = 60_000;
const PURGE_BATCH = 1_000;
// The key this process's worker waits on: deliveries were queued somewhere.
const WAKEUP = 'webhook-deliveries';

/**
 * Sends due webhook deliveries, on every replica. It claims with `FOR UPDATE SKIP LOCKED` and a
 * lease, sends outside any transaction, and records the outcome; a queued delivery wakes it through
 * NOTIFY, a scheduled retry through a timer set to the next due time. Database errors are logged
 * and retried with backoff; on shutdown it stops claiming and waits for the attempts in flight.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly inFlight = new Map<string, number>();
  /** Attempts in flight by organization, bounded by `WEBHOOK_ORG_CONCURRENCY`. */
  private readonly inFlightByOrganization = new Map<string, number>();
  private readonly attempts = new Set<Promise<void>>();
  private readonly sender: WebhookSender;
  private wakeup: Subscription | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private purgeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly notifier: Notifier,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const { timeoutMs, allowPrivateUrls, endpointConcurrency } = config.webhooks;
    this.sender = new WebhookSender(timeoutMs, allowPrivateUrls, endpointConcurrency);
    if (config.webhooks.worker) notifier.listen(DELIVERIES_CHANNEL, { notification: () => notifier.wake(WAKEUP) });
  }

  onApplicationBootstrap(): void {
    if (!this.config.webhooks.worker) return;
    this.wakeup = this.notifier.subscribe(WAKEUP);
    this.loop = this.run();
    const purge = () => this.purgeFinished().catch((err: unknown) => this.logger.warn({ err }, 'webhook delivery retention sweep failed'));
    this.purgeTimer = setInterval(purge, PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
  }

  /** Finished deliveries and their log are kept as long as events (`EVENT_RETENTION_HOURS`). */
  async purgeFinished(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.config.eventRetentionHours * 3_600_000);
    let total = 0;
    for (let removed = PURGE_BATCH; removed === PURGE_BATCH; total += removed) {
      removed = await this.repository.purgeFinished(cutoff, PURGE_BATCH);
    }
    return total;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.wakeup?.notify();
    // Attempts end within their timeout; the bound only guards against a stuck database call.
    const bound = new Promise<void>((resolve) => setTimeout(resolve, this.config.webhooks.timeoutMs + LEASE_MARGIN_MS).unref());
    await Promise.race([Promise.allSettled([this.loop, ...this.attempts]), bound]);
    this.wakeup?.close();
    this.sender.close();
  }

  private async run(): Promise<void> {
    const { concurrency, endpointConcurrency, organizationConcurrency, timeoutMs } = this.config.webhooks;
    let backoff = OUTAGE_BACKOFF_MIN_MS;
    let outage = false;
    let busy = false;
    // The notifier ends its subscriptions at shutdown, possibly before this worker's own hook runs.
    while (!this.stopped && !this.wakeup!.ended) {
      try {
        const free = concurrency - this.attempts.size;
        let wait = IDLE_POLL_MS;
        if (free > 0) {
          // The next due time is one index probe; the claim, which visits every enabled webhook, runs
          // only when something is due (or the last claim found work, so more is likely).
          const full = (counts: Map<string, number>, bound: number) => [...counts].filter(([, n]) => n >= bound).map(([id]) => id);
          const nextDue = () =>
            this.repository.msUntilNextDue(full(this.inFlight, endpointConcurrency), full(this.inFlightByOrganization, organizationConcurrency));
          let due = busy ? 0 : await nextDue();
          if (due !== null && due <= 0) {
            const claimed = await this.repository.claim(
              free,
              endpointConcurrency,
              this.inFlight,
              timeoutMs + LEASE_MARGIN_MS,
              organizationConcurrency,
              this.inFlightByOrganization,
            );
            for (const delivery of claimed) this.start(delivery);
            busy = claimed.length > 0;
            if (claimed.length === free) continue;
            due = busy ? await nextDue() : MIN_POLL_MS;
          } else {
            busy = false;
          }
          if (due !== null) wait = Math.min(IDLE_POLL_MS, Math.max(MIN_POLL_MS, due));
        }
        if (outage) this.logger.info('webhook worker: database reachable again');
        outage = false;
        backoff = OUTAGE_BACKOFF_MIN_MS;
        await this.wakeup!.wait(wait);
      } catch (err) {
        if (!outage) this.logger.warn({ err }, 'webhook worker: claiming failed; retrying with backoff');
        outage = true;
        await this.wakeup!.wait(backoff);
        backoff = Math.min(backoff * 2, OUTAGE_BACKOFF_MAX_MS);
      }
    }
  }

  private start(delivery: ClaimedDelivery): void {
    count(this.inFlight, delivery.webhook_id, 1);
    count(this.inFlightByOrganization, delivery.organization_id, 1);
    const attempt = this.deliver(delivery)
      .catch((err: unknown) =>
        this.logger.warn(
          { err, deliveryId: delivery.id, webhookId: delivery.webhook_id },
          'webhook attempt not recorded; its lease will run out and it is retried',
        ),
      )
      .finally(() => {
        this.attempts.delete(attempt);
        count(this.inFlight, delivery.webhook_id, -1);
        count(this.inFlightByOrganization, delivery.organization_id, -1);
        this.wakeup?.notify();
      });
    this.attempts.add(attempt);
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const { retryBaseMs, retryWindowMs, disableAfter } = this.config.webhooks;
    const attemptedAt = new Date();
    // The body is the event exactly as the feed shows it.
    const body = delivery.event ? JSON.stringify(renderEvent(delivery.event)) : null;
    const result = body
      ? await this.sender.send(delivery.url, this.sign(delivery, body, attemptedAt), body)
      : { status: null, error: 'the event is no longer retained', durationMs: 0 };
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const retryAt = ok || !body ? null : nextAttemptAt(delivery.attempt, delivery.created_at, new Date(), retryBaseMs, retryWindowMs);
    const disabled = await this.repository.record(
      {
        delivery,
        responseStatus: result.status,
        error: result.error,
        durationMs: result.durationMs,
        attemptedAt,
        status: ok ? 'succeeded' : retryAt ? 'pending' : 'failed',
        nextAttemptAt: retryAt,
      },
      { disableAfter, windowMs: retryWindowMs },
      delivery.failing,
    );
    this.metrics.webhookDelivered(ok ? 'delivered' : retryAt ? 'failed' : 'gave_up');
    if (disabled) this.logger.warn({ webhookId: delivery.webhook_id }, 'webhook disabled after failing');
  }

  /**
   * Standard Webhooks headers; during a rotation's grace period, signatures by both secrets. The
   * run's trace context goes along as `traceparent` / `tracestate` (docs/api.md#trace-context).
   */
  private sign(delivery: ClaimedDelivery, body: string, at: Date): Record<string, string> {
    const signatures = [new Webhook(delivery.secret).sign(delivery.event_id, at, body)];
    if (delivery.previous_secret) signatures.push(new Webhook(delivery.previous_secret).sign(delivery.event_id, at, body));
    return {
      'webhook-id': delivery.event_id,
      'webhook-timestamp': Math.floor(at.getTime() / 1000).toString(),
      'webhook-signature': signatures.join(' '),
      ...traceHeaders(delivery),
    };
  }
}

function count(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
