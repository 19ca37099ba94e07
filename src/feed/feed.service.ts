import { Inject, Injectable } from '@nestjs/common';
import { CredentialWatch } from '../common/auth/credential-watch';
import type { Principal } from '../common/auth/principal';
import { AppError, badRequest } from '../common/errors/app-error';
import { HeldRequests } from '../common/held/held-requests';
import { WakeReads } from '../common/held/wake-reads';
import { MetricsService } from '../common/metrics/metrics.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventLog, EventPage } from '../event-log/event-log.service';
import { FlowsService } from '../flows/flows.service';
import { FeedEvent, FlowEventDto, FlowEventsPageDto, ListFlowEventsQueryDto, toFeedEvent } from './dto/flow-event.dto';

/** Where a stream of events goes: a Server-Sent Events response, in production. */
export interface EventSink {
  /** False when the client has not read what was sent before: wait for `drained()` before sending more. */
  send(event: FeedEvent): boolean;
  keepAlive(): void;
  /** Resolves once the client has read what was buffered, or the stream closed. */
  drained(): Promise<void>;
  end(): void;
  /** Aborted when the client goes away, the process shuts down or the credential is revoked. */
  readonly closed: AbortSignal;
}

interface Scope {
  organizationId: string;
  flowId: string | null;
  after: bigint;
}

interface Page {
  events: FeedEvent[];
  more: boolean;
}

const KEEP_ALIVE_MS = 15_000;
const CURSOR = /^\d{1,18}$/;

/** The event feed: the organization's events after a cursor, as pages (held while empty, on request) or a stream. */
@Injectable()
export class FeedService {
  /** Reads after a wake, shared by the waiters of one scope at one cursor. */
  private readonly wakeReads: WakeReads<EventPage>;

  constructor(
    private readonly log: EventLog,
    private readonly flows: FlowsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly held: HeldRequests,
    private readonly credentials: CredentialWatch,
  ) {
    this.wakeReads = new WakeReads(
      (page, size) => ({ ...page, events: page.events.slice(0, size), more: page.more || page.events.length > size }),
      () => metrics.heldReads.inc({ kind: 'feed' }),
    );
  }

  /** One page of the feed; with `waitSeconds`, an empty page is held until events arrive or the time passes. */
  /** `onHold` runs once the empty page is going to be held (the caller gives back what waiting need not keep, its admission slot). */
  async page(
    principal: Principal,
    query: ListFlowEventsQueryDto,
    waitSeconds: number | null,
    signal?: AbortSignal,
    onHold: () => void = () => undefined,
  ): Promise<FlowEventsPageDto> {
    const scope = await this.scope(principal, query.flow_id, query.after);
    const limit = query.limit ?? 100;
    let { events } = await this.read(scope, limit);
    if (events.length === 0 && waitSeconds !== null) {
      const release = this.held.hold(principal);
      onHold();
      const subscription = this.log.watchOrganization(principal.organizationId);
      this.metrics.longPolls.inc();
      try {
        const deadline = Date.now() + waitSeconds * 1000;
        ({ events } = await this.read(scope, limit));
        while (events.length === 0 && !signal?.aborted && !subscription.ended && Date.now() < deadline) {
          if (await subscription.wait(deadline - Date.now(), signal)) ({ events } = await this.read(scope, limit, true));
        }
      } finally {
        this.metrics.longPolls.dec();
        subscription.close();
        release();
      }
    }
    const next = events.length > 0 ? events[events.length - 1].id : scope.after.toString();
    // Each event's JSON text is spliced into the page as is (docs/api.md#event-loop-budget).
    return { events: events as unknown as FlowEventDto[], next_cursor: next };
  }

  /**
   * Server-Sent Events: what is after the cursor, then every new event as it commits, until the
   * client goes away or its credential ends. Access, the cursor and the held-request caps are
   * checked before the first byte. A page is read only once the client has read the last one.
   */
  async stream(principal: Principal, query: ListFlowEventsQueryDto, lastEventId: string | undefined, open: (revoked: AbortSignal) => EventSink): Promise<void> {
    const scope = await this.scope(principal, query.flow_id, lastEventId ?? query.after);
    const limit = query.limit ?? 100;
    const release = this.held.hold(principal);
    const lease = this.credentials.watch(principal);
    const subscription = this.log.watchOrganization(principal.organizationId);
    let sink: EventSink | null = null;
    this.metrics.sseStreams.inc();
    try {
      let page = await this.read(scope, limit);
      sink = open(lease.revoked);
      const streaming = () => !sink!.closed.aborted && !subscription.ended;
      while (streaming()) {
        for (const event of page.events) {
          if (!sink.send(event)) await this.drained(sink);
          if (!streaming()) return;
        }
        if (page.events.length > 0) scope.after = BigInt(page.events[page.events.length - 1].id);
        let woken = false;
        if (!page.more) {
          woken = await subscription.wait(KEEP_ALIVE_MS, sink.closed);
          // Each wake and keep-alive re-checks the credential (a cache hit unless credentials changed).
          if (!streaming() || !(await lease.check())) return;
          if (!woken) sink.keepAlive();
        }
        if (streaming()) page = await this.read(scope, limit, woken);
      }
    } finally {
      this.metrics.sseStreams.dec();
      subscription.close();
      lease.close();
      release();
      // Shutting down, a revoked credential or a failure mid-stream: the client reconnects with Last-Event-ID.
      if (sink && !sink.closed.aborted) sink.end();
    }
  }

  private async drained(sink: EventSink): Promise<void> {
    this.metrics.sseBlocked.inc();
    try {
      await sink.drained();
    } finally {
      this.metrics.sseBlocked.dec();
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

  /**
   * The events after the scope's cursor (a page within its byte budget); 410 when retention has
   * removed events the cursor has not seen. After a wake, waiters at the same place share one read.
   */
  private async read(scope: Scope, limit: number, woken = false): Promise<Page> {
    const { organizationId, flowId, after } = scope;
    const page = woken
      ? await this.wakeReads.read(`${organizationId}:${flowId ?? ''}:${after}`, limit, (size) => this.log.read(organizationId, flowId, after, size))
      : await this.log.read(organizationId, flowId, after, limit);
    if (after > 0n && after < page.purgedThrough) {
      throw new AppError(
        'cursor_expired',
        `The cursor is older than the retained event log (${this.config.eventRetentionHours} hours); start again without one`,
      );
    }
    return { events: page.events.map(toFeedEvent), more: page.more };
  }
}
