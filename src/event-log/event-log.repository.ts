import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { stringify } from '../common/http/raw-json';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import { isoText } from '../database/sql-literals';
import type { EventType } from './event-types';

export interface EventToWrite {
  flow_id: string;
  flow_execution_id: string;
  type: EventType;
  payload: Record<string, unknown>;
}

/** An event as readers see it (renderEvent), its JSON written by PostgreSQL: read as text, it is spliced into a page or a stream unparsed. */
export interface RenderedEvent {
  id: string;
  type: EventType;
  json: string;
}

export interface EventPage {
  /** The highest event id removed by retention. */
  purgedThrough: bigint;
  events: RenderedEvent[];
  /** The page ended at its limit or its byte budget: more events may follow at once. */
  more: boolean;
}

/** A page of events stops once their estimated JSON passes this (always at least one event): docs/api.md#page-size-budgets. */
export const EVENT_PAGE_BYTES = 4 * 1024 * 1024;

/**
 * renderEvent's JSON of the stored event `s` (id, type, time) and its payload `e`, written by
 * PostgreSQL: `{"id":…,"type":…,"occurred_at":…,` then the payload's members as `::text` writes
 * them, so that a page of 1,000 events is neither parsed nor serialized again on the event loop
 * (docs/api.md#event-loop-budget).
 */
const RENDERED = `'{"id":' || to_json(s.id::text)::text || ',"type":' || to_json(s.type)::text || ',"occurred_at":"' || ${isoText('s.occurred_at')} || '"'
  || CASE WHEN e.payload = '{}'::jsonb THEN '}' ELSE ',' || substr(e.payload::text, 2) END`;

@Injectable()
export class EventLogRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The transaction's events, as its last statement (`append_flow_events`, one round trip): it
   * takes the organization's ordering lock, held until commit, before allocating ids, so an
   * organization's events commit in id order and a reader that has seen id N will never see a
   * smaller one appear. Executions named in `touched` changed without an event: they are only notified.
   * The same function writes the webhook outbox: a delivery per event and enabled matching webhook.
   * Payloads are serialized with the runs' JSON text (`RawJson`) spliced in as is (docs/api.md#event-loop-budget).
   */
  @GenerateSql({
    params: [
      DummyValue.MANAGER,
      DummyValue.UUID,
      [{ flow_id: DummyValue.UUID2, flow_execution_id: DummyValue.UUID, type: 'flow_execution.status_changed', payload: {} }],
      [DummyValue.UUID2],
    ],
  })
  async append(m: EntityManager, organizationId: string, events: EventToWrite[], touched: string[]): Promise<void> {
    await m.query(`SELECT append_flow_events($1, $2::jsonb, $3::text[])`, [organizationId, stringify(events), touched]);
  }

  /**
   * Events of the organization (of one flow, when given) after the cursor, oldest first, ending
   * early once the payloads' stored sizes pass EVENT_PAGE_BYTES: only the events sent are read in full.
   */
  @GenerateSql({ name: 'organization', params: [DummyValue.UUID, null, 0n, 100] }, { name: 'one flow', params: [DummyValue.UUID, DummyValue.UUID2, 0n, 100] })
  async page(organizationId: string, flowId: string | null, after: bigint, limit: number): Promise<EventPage> {
    const params: unknown[] = [organizationId, after.toString(), limit, EVENT_PAGE_BYTES];
    const scope = flowId === null ? 'e.organization_id = $1' : `e.flow_id = $${params.push(flowId)} AND e.organization_id = $1`;
    const rows: (RenderedEvent & { purged_through: string; fetched: string | null })[] = await this.dataSource.query(
      `SELECT r.purged_through, page.id, page.type, page.json, page.fetched
         FROM flow_events_retention r
         LEFT JOIN LATERAL (
           SELECT s.id::text, s.type, ${RENDERED} AS json, s.fetched
             FROM (
               SELECT c.*, sum(c.bytes) OVER (ORDER BY c.id ROWS UNBOUNDED PRECEDING) - c.bytes AS bytes_before, count(*) OVER () AS fetched
                 FROM (
                   SELECT e.id, e.type, e.occurred_at, 200 + pg_column_size(e.payload) AS bytes
                     FROM flow_events e
                    WHERE ${scope} AND e.id > $2
                    ORDER BY e.id
                    LIMIT $3
                 ) c
             ) s
             JOIN flow_events e ON e.id = s.id
            WHERE s.bytes_before < $4
         ) page ON true
        ORDER BY page.id::bigint`,
      params,
    );
    const events = rows[0].id === null ? [] : rows.map(({ purged_through: _, fetched: __, ...event }) => event);
    const fetched = Number(rows[0].fetched ?? 0);
    return { purgedThrough: BigInt(rows[0].purged_through), events, more: fetched === limit || fetched > events.length };
  }

  /**
   * Removes up to `batch` events older than the cutoff, skipping rows another replica is removing,
   * and advances the retention mark. A webhook delivery still pending for a removed event keeps a
   * copy of it (`webhook_deliveries.event`), so no retry loses what it sends. Answers how many it removed.
   */
  @GenerateSql({ params: [DummyValue.DATE, 1000] })
  async purgeOlderThan(cutoff: Date, batch: number): Promise<number> {
    const [rows]: [{ removed: number }[]] = await this.dataSource.query(
      `WITH doomed AS (
         SELECT id FROM flow_events WHERE occurred_at < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
       ), kept AS (
         UPDATE webhook_deliveries d
            SET event = jsonb_build_object('type', e.type, 'occurred_at', ${isoText('e.occurred_at')}, 'payload', e.payload, 'flow_execution_id', e.flow_execution_id)
           FROM doomed JOIN flow_events e ON e.id = doomed.id
          WHERE d.event_id = e.id AND d.status = 'pending' AND d.event IS NULL
       ), removed AS (
         DELETE FROM flow_events e USING doomed WHERE e.id = doomed.id RETURNING e.id
       )
       UPDATE flow_events_retention
          SET purged_through = GREATEST(purged_through, (SELECT max(id) FROM removed))
        WHERE EXISTS (SELECT 1 FROM removed)
      RETURNING (SELECT count(*)::int FROM removed) AS removed`,
      [cutoff, batch],
    );
    return rows[0]?.removed ?? 0;
  }
}
