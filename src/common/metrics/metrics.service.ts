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

/** The writes that share statements under load (KeyedBatches). */
export type SharedWrite = 'create' | 'status_change' | 'task_report';

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
  private readonly analysisHits = new Counter({
    name: 'flow_analysis_cache_hits_total',
    help: "Flow analyses found in the process's cache: a version's (entry=version) or a flow's latest (entry=head)",
    labelNames: ['entry'] as const,
    registers: [this.registry],
  });
  private readonly analysisMisses = new Counter({
    name: 'flow_analysis_cache_misses_total',
    help: 'Flow analyses read from the database and analysed, by entry',
    labelNames: ['entry'] as const,
    registers: [this.registry],
  });
  private readonly analysisInvalidations = new Counter({
    name: 'flow_analysis_cache_invalidations_total',
    help: "Flows' latest versions dropped from the cache because the flow changed (a new version, deleted), on any replica",
    registers: [this.registry],
  });
  private readonly analysisHitChildren = { version: this.analysisHits.labels('version'), head: this.analysisHits.labels('head') };
  private readonly analysisMissChildren = { version: this.analysisMisses.labels('version'), head: this.analysisMisses.labels('head') };
  private readonly writesPerStatement = new Histogram({
    name: 'db_writes_per_statement',
    help: "Writes of one organization sent in one statement, by kind (create, status_change, task_report): 1 when none of the organization's was in flight",
    labelNames: ['write'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  private readonly timeouts = new Counter({
    name: 'liveness_timeouts_total',
    help: 'Timeouts fired by the liveness sweep, by kind (execution, heartbeat, task, cancel, awaiting_input)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly sweepDuration = new Histogram({
    name: 'liveness_sweep_duration_seconds',
    help: 'Duration of one liveness sweep of this process',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly overdue = new Gauge({
    name: 'liveness_overdue',
    help: 'Runs and tasks whose timeout passed more than one sweep interval ago, as this process last counted (0 when the sweep keeps up)',
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

  flowAnalysisLookup(entry: 'version' | 'head', hit: boolean): void {
    (hit ? this.analysisHitChildren : this.analysisMissChildren)[entry].inc();
  }

  /** A statement of `writes` writes of one organization sent (docs/api.md#creating-a-run). */
  writesSent(write: SharedWrite, writes: number): void {
    this.writesPerStatement.observe({ write }, writes);
  }

  flowAnalysisInvalidated(): void {
    this.analysisInvalidations.inc();
  }

  /** The cache's size, read at each scrape. */
  flowAnalysisEntries(read: () => number): void {
    new Gauge({
      name: 'flow_analysis_cache_entries',
      help: 'Flow analyses held in the process, versions and heads',
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  webhookDelivered(outcome: WebhookOutcome): void {
    this.webhookDeliveries.inc({ outcome });
  }

  /** One liveness sweep: its duration, the timeouts it fired by kind, and what was overdue after it. */
  livenessSwept(seconds: number, fired: Map<string, number>, overdue: number): void {
    this.sweepDuration.observe(seconds);
    for (const [kind, n] of fired) this.timeouts.inc({ kind }, n);
    this.overdue.set(overdue);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
