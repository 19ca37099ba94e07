-- Written by `npm run sql:queries` from the @GenerateSql samples in src/event-log/event-log.repository.ts: do not edit.

-- EventLogRepository.append
-- params: ["00000000-0000-4000-a000-000000000000","[{\"flow_id\":\"00000000-0000-4000-a000-000000000001\",\"flow_execution_id\":\"00000000-0000-4000-a000-000000000000\",\"type\":\"flow_execution.status_changed\",\"payload\":{}}]",["00000000-0000-4000-a000-000000000001"]]
SELECT
  append_flow_events ($1, $2::jsonb, $3::text[]);

-- EventLogRepository.page (organization)
-- params: ["00000000-0000-4000-a000-000000000000","0",100,4194304]
SELECT
  r.purged_through,
  page.id,
  page.type,
  page.json,
  page.fetched
FROM
  flow_events_retention r
  LEFT JOIN LATERAL (
    SELECT
      s.id::text,
      s.type,
      '{"id":' || to_json(s.id::text)::text || ',"type":' || to_json(s.type)::text || ',"occurred_at":"' || to_char(
        s.occurred_at AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
      ) || '"' || CASE
        WHEN e.payload = '{}'::jsonb THEN '}'
        ELSE ',' || substr(e.payload::text, 2)
      END AS json,
      s.fetched
    FROM
      (
        SELECT
          c.*,
          sum(c.bytes) OVER (
            ORDER BY
              c.id ROWS UNBOUNDED PRECEDING
          ) - c.bytes AS bytes_before,
          count(*) OVER () AS fetched
        FROM
          (
            SELECT
              e.id,
              e.type,
              e.occurred_at,
              200 + pg_column_size(e.payload) AS bytes
            FROM
              flow_events e
            WHERE
              e.organization_id = $1
              AND e.id > $2
            ORDER BY
              e.id
            LIMIT
              $3
          ) c
      ) s
      JOIN flow_events e ON e.id = s.id
    WHERE
      s.bytes_before < $4
  ) page ON true
ORDER BY
  page.id::bigint;

-- EventLogRepository.page (one flow)
-- params: ["00000000-0000-4000-a000-000000000000","0",100,4194304,"00000000-0000-4000-a000-000000000001"]
SELECT
  r.purged_through,
  page.id,
  page.type,
  page.json,
  page.fetched
FROM
  flow_events_retention r
  LEFT JOIN LATERAL (
    SELECT
      s.id::text,
      s.type,
      '{"id":' || to_json(s.id::text)::text || ',"type":' || to_json(s.type)::text || ',"occurred_at":"' || to_char(
        s.occurred_at AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
      ) || '"' || CASE
        WHEN e.payload = '{}'::jsonb THEN '}'
        ELSE ',' || substr(e.payload::text, 2)
      END AS json,
      s.fetched
    FROM
      (
        SELECT
          c.*,
          sum(c.bytes) OVER (
            ORDER BY
              c.id ROWS UNBOUNDED PRECEDING
          ) - c.bytes AS bytes_before,
          count(*) OVER () AS fetched
        FROM
          (
            SELECT
              e.id,
              e.type,
              e.occurred_at,
              200 + pg_column_size(e.payload) AS bytes
            FROM
              flow_events e
            WHERE
              e.flow_id = $5
              AND e.organization_id = $1
              AND e.id > $2
            ORDER BY
              e.id
            LIMIT
              $3
          ) c
      ) s
      JOIN flow_events e ON e.id = s.id
    WHERE
      s.bytes_before < $4
  ) page ON true
ORDER BY
  page.id::bigint;

-- EventLogRepository.purgeOlderThan
-- params: ["2024-01-01T00:00:00.000Z",1000]
WITH
  doomed AS (
    SELECT
      id
    FROM
      flow_events
    WHERE
      occurred_at < $1
    ORDER BY
      id
    LIMIT
      $2
    FOR UPDATE
      SKIP LOCKED
  ),
  kept AS (
    UPDATE webhook_deliveries d
    SET
      event = jsonb_build_object(
        'type',
        e.type,
        'occurred_at',
        to_char(
          e.occurred_at AT TIME ZONE 'UTC',
          'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
        ),
        'payload',
        e.payload,
        'flow_execution_id',
        e.flow_execution_id
      )
    FROM
      doomed
      JOIN flow_events e ON e.id = doomed.id
    WHERE
      d.event_id = e.id
      AND d.status = 'pending'
      AND d.event IS NULL
  ),
  removed AS (
    DELETE FROM flow_events e USING doomed
    WHERE
      e.id = doomed.id
    RETURNING
      e.id
  )
UPDATE flow_events_retention
SET
  purged_through = GREATEST(
    purged_through,
    (
      SELECT
        max(id)
      FROM
        removed
    )
  )
WHERE
  EXISTS (
    SELECT
      1
    FROM
      removed
  )
RETURNING
  (
    SELECT
      count(*)::int
    FROM
      removed
  ) AS removed;
