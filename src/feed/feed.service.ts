import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '../common/auth/principal';
import { AppError, badRequest } from '../common/errors/app-error';
import { MetricsService } from '../common/metrics/metrics.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventLog } from '../event-log/event-log.service';
import { FlowsService } from '../flows/flows.service';
import { FlowEventDto, FlowEventsPageDto, ListFlowEventsQueryDto, toFlowEvent } from './dto/flow-event.dto';

/** Where a stream of events goes: a Server-Sent Events response, in production. */
export interface EventSink {
  send(event: FlowEventDto): void;
  keepAlive(): void;
  end(): void;
  /** Aborted when the client goes away or the process shuts down. */
  readonly closed: AbortSignal;
}

interface Scope {
  organizationId: string;
  flowId: string | null;
  after: bigint;
}

const KEEP_ALIVE_MS = 15_000;
const CURSOR = /^\d{1,18}$/;

/** The event feed: the organization's events after a cursor, as pages (held while empty, on request) or a stream. */
@Injectable()
export class FeedService {
  constructor(
    private readonly log: EventLog,
    private readonly flows: FlowsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  /** One page of the feed; with `waitSeconds`, an empty page is held until events arrive or the time passes. */
  async page(principal: Principal, query: ListFlowEventsQueryDto, waitSeconds: number | null, signal?: AbortSignal): Promise<FlowEventsPageDto> {
    const scope = await this.scope(principal, query.flow_id, query.after);
    let events = await this.read(scope, query.limit ?? 100);
    if (events.length === 0 && waitSeconds !== null) {
      const subscription = this.log.watchOrganization(principal.organizationId);
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
    const subscription = this.log.watchOrganization(principal.organizationId);
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
    const page = await this.log.read(scope.organizationId, scope.flowId, scope.after, limit);
    if (scope.after > 0n && scope.after < page.purgedThrough) {
      throw new AppError(
        'cursor_expired',
        `The cursor is older than the retained event log (${this.config.eventRetentionHours} hours); start again without one`,
      );
    }
    return page.events.map(toFlowEvent);
  }
}
