import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, LabelValues, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { driverPool } from '../../database/driver-pool';

/** What the event log commits, as the metrics need it (no ids: labels stay bounded). */
export interface CommittedEvent {
  type: string;
  status: string;
  previousStatus: string | null;
}

export type WebhookOutcome = 'delivered' | 'failed' | 'gave_up';

/**
 * The process's Prometheus metrics, served at GET /metrics. Labels are bounded: route templates,
 * methods, statuses and event types, never ids. Each replica counts its own; Prometheus sums them.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  private readonly duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  private readonly inFlight = new Gauge({ name: 'http_requests_in_flight', help: 'HTTP requests being served', registers: [this.registry] });
  private readonly created = new Counter({
    name: 'flow_executions_created_total',
    help: 'Flow executions created (committed)',
    registers: [this.registry],
  });
  private readonly transitions = new Counter({
    name: 'flow_execution_transitions_total',
    help: 'Committed status changes of flow executions, deletions included',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });
  private readonly events = new Counter({
    name: 'events_written_total',
    help: 'Events committed to the event log, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly longPolls = new Gauge({
    name: 'long_polls_open',
    help: 'Requests held open waiting for a change (Prefer: wait)',
    registers: [this.registry],
  });
  readonly sseStreams = new Gauge({ name: 'sse_streams_open', help: 'Server-Sent Event streams open', registers: [this.registry] });
  readonly heldRequests = new Gauge({
    name: 'held_requests_open',
    help: 'Held requests (SSE streams and long-polls) counted against the held-request caps',
    registers: [this.registry],
  });
  readonly heldRejections = new Counter({
    name: 'held_requests_rejected_total',
    help: 'Held requests refused with 429, by the cap that refused them',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  readonly heldReads = new Counter({
    name: 'held_request_reads_total',
    help: 'Database reads made for woken held requests: one per feed scope or execution per wake, shared by its waiters',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly sseBlocked = new Gauge({
    name: 'sse_streams_blocked',
    help: 'Server-Sent Event streams waiting for their client to read (back-pressure)',
    registers: [this.registry],
  });
  /** For the webhook dispatcher: call `webhookDelivered(outcome)` once per delivery attempt's end. */
  private readonly webhookDeliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  /** Children by `method route status`, so the hot path skips prom-client's label hashing. */
  private readonly durationChildren = new Map<string, { observe(value: number): void }>();

  constructor(dataSource: DataSource) {
    collectDefaultMetrics({ register: this.registry });
    const pool = () => driverPool(dataSource);
    const poolGauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    poolGauge('db_pool_total', 'Connections open in the database pool', () => pool().totalCount);
    poolGauge('db_pool_idle', 'Idle connections in the database pool', () => pool().idleCount);
    poolGauge('db_pool_waiting', 'Queries waiting for a pool connection', () => pool().waitingCount);
  }

  /** Express middleware: in-flight gauge and the duration histogram, labelled once the route is known. */
  httpMiddleware() {
    return (req: Request, res: Response, next: NextFunction) => {
      const start = process.hrtime.bigint();
      this.inFlight.inc();
      res.once('close', () => {
        this.inFlight.dec();
        // Express sets req.route only for a matched route: its template, never the raw path.
        const route = req.route ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
        const key = `${req.method} ${route} ${res.statusCode}`;
        let child = this.durationChildren.get(key);
        if (!child) {
          child = this.duration.labels({ method: req.method, route, status: String(res.statusCode) });
          this.durationChildren.set(key, child);
        }
        child.observe(Number(process.hrtime.bigint() - start) / 1e9);
      });
      next();
    };
  }

  eventsCommitted(events: CommittedEvent[]): void {
    for (const event of events) {
      this.events.inc({ type: event.type });
      if (event.type === 'flow_execution.created') this.created.inc();
      else if (event.type === 'flow_execution.status_changed' || event.type === 'flow_execution.deleted') {
        this.transitions.inc({ from: event.previousStatus ?? 'none', to: event.status } as LabelValues<'from' | 'to'>);
      }
    }
  }

  webhookDelivered(outcome: WebhookOutcome): void {
    this.webhookDeliveries.inc({ outcome });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
