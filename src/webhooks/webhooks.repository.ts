import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import { isoText } from '../database/sql-literals';
import type { EventType, StoredEvent } from '../event-log/event-types';
import type { DeliveryStatus, WebhookStatus } from './webhook.entity';

/** The channel of `NOTIFY` when webhook deliveries are queued (payload empty; append_flow_events sends it too): workers wake and claim. */
export const DELIVERIES_CHANNEL = 'webhook_deliveries';

/** A delivery a worker holds the lease of: everything needed to send it. */
export interface ClaimedDelivery {
  id: string;
  webhook_id: string;
  organization_id: string;
  /** This attempt's number, and the fence its result is recorded under. */
  attempt: number;
  created_at: Date;
  url: string;
  secret: string;
  /** The secret before a rotation, while it is still signed with. */
  previous_secret: string | null;
  /** The webhook's failure state when claimed: a success with none to clear records in one statement. */
  failing: boolean;
  event_id: string;
  /** Null when retention has removed the event. */
  event: StoredEvent | null;
  /** The trace context of the event's flow execution, sent as headers (docs/api.md#trace-context). */
  traceparent: string | null;
  tracestate: string | null;
}

export interface AttemptOutcome {
  delivery: Pick<ClaimedDelivery, 'id' | 'webhook_id' | 'attempt'>;
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
  attemptedAt: Date;
  /** The message's state after this attempt, and when it is retried (pending only). */
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
}

export interface AttemptRow {
  id: string;
  delivery_id: string;
  event_id: string;
  event_type: EventType;
  attempt: number;
  response_status: number | null;
  error: string | null;
  duration_ms: number;
  attempted_at: Date;
  next_attempt_at: Date | null;
  status: DeliveryStatus;
}

const OCCURRED_AT = isoText('e.occurred_at');
/** The advisory lock class of an organization's webhook count (append_flow_events' ordering lock is 1718382455). */
const WEBHOOK_COUNT_LOCK = 1718382456;

const OUTCOME_SAMPLE: AttemptOutcome = {
  delivery: { id: DummyValue.UUID, webhook_id: DummyValue.UUID2, attempt: 1 },
  responseStatus: null,
  error: null,
  durationMs: 120,
  attemptedAt: DummyValue.DATE,
  status: 'pending',
  nextAttemptAt: null,
};
const POLICY_SAMPLE = { disableAfter: 5, windowMs: 86_400_000 };

@Injectable()
export class WebhooksRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Takes the lease of up to `limit` due deliveries of enabled webhooks, at most `perEndpoint` per
   * webhook and `perOrganization` per organization, minus what this process already has in flight
   * there (`busy`, `busyOrganizations`), taking turns between organizations: each one's oldest due
   * delivery first, then each one's second, and so on. `SKIP LOCKED` lets every replica claim at
   * once without waiting on or sharing rows; the lease is `next_attempt_at` moved `leaseMs` ahead,
   * so a process that dies mid-attempt hands the delivery on when it runs out. The event comes from
   * the log, or from the delivery's own copy once retention removed it.
   */
  @GenerateSql({ params: [20, 4, new Map([[DummyValue.UUID, 1]]), 30000, 8, new Map([[DummyValue.UUID2, 1]])] })
  async claim(
    limit: number,
    perEndpoint: number,
    busy: Map<string, number>,
    leaseMs: number,
    perOrganization: number,
    busyOrganizations: Map<string, number>,
  ): Promise<ClaimedDelivery[]> {
    const rows: (Omit<ClaimedDelivery, 'event'> & { type: EventType | null; occurred_at: string | null; payload: Record<string, unknown> | null })[] =
      await this.dataSource.query(
        `WITH due AS (
           SELECT d.id, w.organization_id, d.next_attempt_at
             FROM webhooks w
            CROSS JOIN LATERAL (
              SELECT d.id, d.next_attempt_at
                FROM webhook_deliveries d
               WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= now()
               ORDER BY d.next_attempt_at
               LIMIT GREATEST($2::int - COALESCE((SELECT b.n FROM unnest($3::uuid[], $4::int[]) b (id, n) WHERE b.id = w.id), 0), 0)
                 FOR UPDATE SKIP LOCKED
            ) d
            WHERE w.status = 'enabled'
         ), turns AS (
           SELECT due.id, due.next_attempt_at,
                  row_number() OVER (PARTITION BY due.organization_id ORDER BY due.next_attempt_at, due.id) AS turn,
                  $6::int - COALESCE((SELECT b.n FROM unnest($7::uuid[], $8::int[]) b (id, n) WHERE b.id = due.organization_id), 0) AS room
             FROM due
         ), chosen AS (
           SELECT id FROM turns WHERE turn <= room ORDER BY turn, next_attempt_at, id LIMIT $1
         ), claimed AS (
           UPDATE webhook_deliveries d
              SET attempts = d.attempts + 1, next_attempt_at = clock_timestamp() + $5 * interval '1 millisecond'
             FROM chosen
            WHERE d.id = chosen.id
           RETURNING d.id, d.webhook_id, d.attempts, d.created_at, d.event_id, d.event
         )
         SELECT c.id, c.webhook_id, w.organization_id, c.attempts AS attempt, c.created_at, c.event_id::text, w.url, w.secret,
                CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret,
                (w.consecutive_failures <> 0 OR w.failing_since IS NOT NULL) AS failing,
                COALESCE(e.type, c.event ->> 'type') AS type, COALESCE(${OCCURRED_AT}, c.event ->> 'occurred_at') AS occurred_at,
                COALESCE(e.payload, c.event -> 'payload') AS payload, fe.traceparent, fe.tracestate
           FROM claimed c
           JOIN webhooks w ON w.id = c.webhook_id
           LEFT JOIN flow_events e ON e.id = c.event_id
           LEFT JOIN flow_executions fe ON fe.id = COALESCE(e.flow_execution_id, (c.event ->> 'flow_execution_id')::uuid)`,
        [limit, perEndpoint, [...busy.keys()], [...busy.values()], leaseMs, perOrganization, [...busyOrganizations.keys()], [...busyOrganizations.values()]],
      );
    return rows.map(({ type, occurred_at, payload, ...delivery }) => ({
      ...delivery,
      event: type === null ? null : { id: delivery.event_id, type, occurred_at: occurred_at!, payload: payload! },
    }));
  }

  /**
   * How many webhooks the organization has, under a transaction lock of its webhook count (held until
   * `m` commits), so concurrent creates cannot pass the cap together.
   */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async lockedCount(m: EntityManager, organizationId: string): Promise<number> {
    // Two statements: the count's snapshot must be taken after the lock is held.
    await m.query(`SELECT pg_advisory_xact_lock(${WEBHOOK_COUNT_LOCK}, hashtext($1::text))`, [organizationId]);
    const [row]: { n: number }[] = await m.query(`SELECT count(*)::int AS n FROM webhooks WHERE organization_id = $1`, [organizationId]);
    return row.n;
  }

  /**
   * Milliseconds until the next delivery falls due at a webhook not in `full` of an organization not
   * in `fullOrganizations` (negative: overdue), or null.
   */
  @GenerateSql({ params: [[DummyValue.UUID], [DummyValue.UUID2]] })
  async msUntilNextDue(full: string[], fullOrganizations: string[] = []): Promise<number | null> {
    const [row]: { ms: number }[] = await this.dataSource.query(
      `SELECT (extract(epoch FROM d.next_attempt_at - clock_timestamp()) * 1000)::float8 AS ms
         FROM webhook_deliveries d
        WHERE d.status = 'pending' AND d.webhook_id <> ALL ($1::uuid[]) AND d.organization_id <> ALL ($2::uuid[])
          AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.status = 'enabled')
        ORDER BY d.next_attempt_at
        LIMIT 1`,
      [full, fullOrganizations],
    );
    return row?.ms ?? null;
  }

  /**
   * Logs an attempt and moves its delivery and webhook on, in one transaction that locks the
   * webhook first (as deleting it does), so the two never deadlock. The delivery changes only if
   * the attempt still holds it (`attempts` is the fence: a lease that ran out was taken over).
   * Answers whether the webhook was disabled by this outcome.
   */
  @GenerateSql(
    { name: 'a success', params: [{ ...OUTCOME_SAMPLE, responseStatus: 200, status: 'succeeded' }, POLICY_SAMPLE, false] },
    { name: 'a failure, the webhook gone', params: [{ ...OUTCOME_SAMPLE, error: 'timeout', nextAttemptAt: DummyValue.DATE }, POLICY_SAMPLE] },
  )
  async record(outcome: AttemptOutcome, policy: { disableAfter: number; windowMs: number }, failing = true): Promise<boolean> {
    const { delivery } = outcome;
    if (outcome.status === 'succeeded' && !failing) {
      await this.recordSuccess(outcome);
      return false;
    }
    return this.dataSource.transaction(async (m) => {
      const [hook]: { consecutive_failures: number; failing_since: Date | null; status: WebhookStatus }[] = await m.query(
        `SELECT consecutive_failures, failing_since, status FROM webhooks WHERE id = $1 FOR NO KEY UPDATE`,
        [delivery.webhook_id],
      );
      if (!hook) return false;
      const moved: unknown[] = await m.query(
        `UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4
          WHERE id = $1 AND attempts = $2 AND status = 'pending' RETURNING id`,
        [delivery.id, delivery.attempt, outcome.status, outcome.nextAttemptAt],
      );
      await m.query(
        `INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, response_status, error, duration_ms, attempted_at, next_attempt_at)
         SELECT d.id, d.webhook_id, $2, $3, $4, $5, $6, $7 FROM webhook_deliveries d WHERE d.id = $1`,
        [delivery.id, delivery.attempt, outcome.responseStatus, outcome.error, outcome.durationMs, outcome.attemptedAt, outcome.nextAttemptAt],
      );
      if (outcome.status === 'succeeded') {
        if (hook.consecutive_failures !== 0 || hook.failing_since !== null) {
          await m.query(`UPDATE webhooks SET consecutive_failures = 0, failing_since = NULL WHERE id = $1`, [delivery.webhook_id]);
        }
        return false;
      }
      if (hook.status !== 'enabled') return false;
      const failures = hook.consecutive_failures + (outcome.status === 'failed' && moved.length > 0 ? 1 : 0);
      const failingSince = hook.failing_since ?? outcome.attemptedAt;
      const reason =
        failures >= policy.disableAfter
          ? `${failures} consecutive messages failed`
          : outcome.attemptedAt.getTime() - failingSince.getTime() >= policy.windowMs
            ? `failing since ${failingSince.toISOString()}`
            : null;
      await m.query(
        `UPDATE webhooks SET consecutive_failures = $2, failing_since = $3,
                status = CASE WHEN $4::text IS NULL THEN status ELSE 'disabled' END,
                disabled_reason = COALESCE($4::text, disabled_reason),
                updated_at = CASE WHEN $4::text IS NULL THEN updated_at ELSE now() END
          WHERE id = $1`,
        [delivery.webhook_id, failures, failingSince, reason],
      );
      if (reason !== null) await this.failPending(m, delivery.webhook_id);
      return reason !== null;
    });
  }

  /**
   * The common case in one statement: a success at a webhook with no failures to clear touches only
   * the delivery (and the log), never the webhook row, so it cannot deadlock with a delete.
   */
  private async recordSuccess(outcome: AttemptOutcome): Promise<void> {
    const { delivery } = outcome;
    try {
      await this.dataSource.query(
        `WITH moved AS (
           UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL
            WHERE id = $1 AND attempts = $2 AND status = 'pending'
           RETURNING id
         )
         INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, response_status, error, duration_ms, attempted_at, next_attempt_at)
         SELECT d.id, d.webhook_id, $2, $3, NULL, $4, $5, NULL FROM webhook_deliveries d WHERE d.id = $1`,
        [delivery.id, delivery.attempt, outcome.responseStatus, outcome.durationMs, outcome.attemptedAt],
      );
    } catch (err) {
      // The webhook (and with it the delivery) was deleted meanwhile: nothing to record.
      const { code, driverError } = err as { code?: string; driverError?: { code?: string } };
      if ((code ?? driverError?.code) !== '23503') throw err;
    }
  }

  /** Removes up to `batch` finished deliveries (and their attempts) created before the cutoff; answers how many. */
  @GenerateSql({ params: [DummyValue.DATE, 1000] })
  async purgeFinished(cutoff: Date, batch: number): Promise<number> {
    const [, removed]: [unknown, number] = await this.dataSource.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending' ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
       )`,
      [cutoff, batch],
    );
    return removed;
  }

  /**
   * Forgets up to `batch` previous secrets whose grace period has ended, skipping webhooks being
   * changed: every replica may run it at once. Answers how many.
   */
  @GenerateSql({ params: [1000] })
  async clearExpiredSecrets(batch: number): Promise<number> {
    const [, cleared]: [unknown, number] = await this.dataSource.query(
      `UPDATE webhooks SET previous_secret = NULL, previous_secret_expires_at = NULL
        WHERE id IN (
          SELECT id FROM webhooks
           WHERE previous_secret IS NOT NULL AND previous_secret_expires_at <= now()
           ORDER BY previous_secret_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
        )`,
      [batch],
    );
    return cleared;
  }

  /** A disabled webhook sends nothing more: its pending deliveries fail. */
  @GenerateSql({ params: [DummyValue.MANAGER, DummyValue.UUID] })
  async failPending(m: EntityManager, webhookId: string): Promise<void> {
    await m.query(`UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL WHERE webhook_id = $1 AND status = 'pending'`, [webhookId]);
  }

  /**
   * The webhook's organization (null when it does not exist) and a page of its attempts, newest
   * first, in one round trip.
   */
  @GenerateSql(
    { params: [DummyValue.UUID, { limit: 50 }] },
    { name: 'by status, before an attempt', params: [DummyValue.UUID, { status: 'failed', before: '100', limit: 50 }] },
  )
  async attempts(
    webhookId: string,
    filter: { status?: DeliveryStatus; before?: string; limit: number },
  ): Promise<{ organizationId: string | null; rows: AttemptRow[] }> {
    const rows: (AttemptRow & { organization_id: string })[] = await this.dataSource.query(
      `SELECT w.organization_id, page.*
         FROM webhooks w
         LEFT JOIN LATERAL (
           SELECT a.id::text, a.delivery_id, d.event_id::text, d.event_type, a.attempt, a.response_status, a.error,
                  a.duration_ms, a.attempted_at, a.next_attempt_at, d.status
             FROM webhook_attempts a
             JOIN webhook_deliveries d ON d.id = a.delivery_id
            WHERE a.webhook_id = w.id
              AND ($2::bigint IS NULL OR a.id < $2::bigint)
              AND ($3::text IS NULL OR d.status = $3::text)
            ORDER BY a.id DESC
            LIMIT $4
         ) page ON true
        WHERE w.id = $1`,
      [webhookId, filter.before ?? null, filter.status ?? null, filter.limit],
    );
    if (rows.length === 0) return { organizationId: null, rows: [] };
    return { organizationId: rows[0].organization_id, rows: rows[0].id === null ? [] : rows.map(({ organization_id: _, ...row }) => row) };
  }

  /** A new message for the event of `deliveryId`, due now; null when that delivery is not the webhook's. */
  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID2] })
  async redeliver(
    webhookId: string,
    deliveryId: string,
  ): Promise<{ id: string; event_id: string; event_type: EventType; status: DeliveryStatus; created_at: Date } | null> {
    const [row] = await this.dataSource.query(
      `WITH copy AS (
         INSERT INTO webhook_deliveries (webhook_id, organization_id, event_id, event_type, next_attempt_at, event)
         SELECT d.webhook_id, d.organization_id, d.event_id, d.event_type, now(), d.event
           FROM webhook_deliveries d WHERE d.id = $1 AND d.webhook_id = $2
         RETURNING id, event_id::text, event_type, status, created_at
       ), woken AS (
         SELECT pg_notify('${DELIVERIES_CHANNEL}', '') FROM copy
       )
       SELECT copy.* FROM copy, woken`,
      [deliveryId, webhookId],
    );
    return row ?? null;
  }
}
