-- Written by `npm run sql:queries` from the @GenerateSql samples in src/webhooks/webhooks.repository.ts: do not edit.

-- WebhooksRepository.claim
-- params: [20,4,["00000000-0000-4000-a000-000000000000"],[1],30000,8,["00000000-0000-4000-a000-000000000001"],[1]]
WITH
  due AS (
    SELECT
      d.id,
      w.organization_id,
      d.next_attempt_at
    FROM
      webhooks w
      CROSS JOIN LATERAL (
        SELECT
          d.id,
          d.next_attempt_at
        FROM
          webhook_deliveries d
        WHERE
          d.webhook_id = w.id
          AND d.status = 'pending'
          AND d.next_attempt_at <= now()
        ORDER BY
          d.next_attempt_at
        LIMIT
          GREATEST(
            $2::int - COALESCE(
              (
                SELECT
                  b.n
                FROM
                  unnest($3::uuid[], $4::int[]) b (id, n)
                WHERE
                  b.id = w.id
              ),
              0
            ),
            0
          )
        FOR UPDATE
          SKIP LOCKED
      ) d
    WHERE
      w.status = 'enabled'
  ),
  turns AS (
    SELECT
      due.id,
      due.next_attempt_at,
      row_number() OVER (
        PARTITION BY
          due.organization_id
        ORDER BY
          due.next_attempt_at,
          due.id
      ) AS turn,
      $6::int - COALESCE(
        (
          SELECT
            b.n
          FROM
            unnest($7::uuid[], $8::int[]) b (id, n)
          WHERE
            b.id = due.organization_id
        ),
        0
      ) AS room
    FROM
      due
  ),
  chosen AS (
    SELECT
      id
    FROM
      turns
    WHERE
      turn <= room
    ORDER BY
      turn,
      next_attempt_at,
      id
    LIMIT
      $1
  ),
  claimed AS (
    UPDATE webhook_deliveries d
    SET
      attempts = d.attempts + 1,
      next_attempt_at = clock_timestamp() + $5 * interval '1 millisecond'
    FROM
      chosen
    WHERE
      d.id = chosen.id
    RETURNING
      d.id,
      d.webhook_id,
      d.attempts,
      d.created_at,
      d.event_id,
      d.event
  )
SELECT
  c.id,
  c.webhook_id,
  w.organization_id,
  c.attempts AS attempt,
  c.created_at,
  c.event_id::text,
  w.url,
  w.secret,
  CASE
    WHEN w.previous_secret_expires_at > now() THEN w.previous_secret
  END AS previous_secret,
  (
    w.consecutive_failures <> 0
    OR w.failing_since IS NOT NULL
  ) AS failing,
  COALESCE(e.type, c.event ->> 'type') AS type,
  COALESCE(
    to_char(
      e.occurred_at AT TIME ZONE 'UTC',
      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
    ),
    c.event ->> 'occurred_at'
  ) AS occurred_at,
  COALESCE(e.payload, c.event -> 'payload') AS payload,
  fe.traceparent,
  fe.tracestate
FROM
  claimed c
  JOIN webhooks w ON w.id = c.webhook_id
  LEFT JOIN flow_events e ON e.id = c.event_id
  LEFT JOIN flow_executions fe ON fe.id = COALESCE(
    e.flow_execution_id,
    (c.event ->> 'flow_execution_id')::uuid
  );

-- WebhooksRepository.lockedCount
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  pg_advisory_xact_lock(1718382456, hashtext ($1::text));
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  count(*)::int AS n
FROM
  webhooks
WHERE
  organization_id = $1;

-- WebhooksRepository.msUntilNextDue
-- params: [["00000000-0000-4000-a000-000000000000"],["00000000-0000-4000-a000-000000000001"]]
SELECT
  (
    extract(
      epoch
      FROM
        d.next_attempt_at - clock_timestamp()
    ) * 1000
  )::float8 AS ms
FROM
  webhook_deliveries d
WHERE
  d.status = 'pending'
  AND d.webhook_id <> ALL ($1::uuid[])
  AND d.organization_id <> ALL ($2::uuid[])
  AND EXISTS (
    SELECT
      1
    FROM
      webhooks w
    WHERE
      w.id = d.webhook_id
      AND w.status = 'enabled'
  )
ORDER BY
  d.next_attempt_at
LIMIT
  1;

-- WebhooksRepository.record (a success)
-- params: ["00000000-0000-4000-a000-000000000000",1,200,120,"2024-01-01T00:00:00.000Z"]
WITH
  moved AS (
    UPDATE webhook_deliveries
    SET
      status = 'succeeded',
      next_attempt_at = NULL
    WHERE
      id = $1
      AND attempts = $2
      AND status = 'pending'
    RETURNING
      id
  )
INSERT INTO
  webhook_attempts (
    delivery_id,
    webhook_id,
    attempt,
    response_status,
    error,
    duration_ms,
    attempted_at,
    next_attempt_at
  )
SELECT
  d.id,
  d.webhook_id,
  $2,
  $3,
  NULL,
  $4,
  $5,
  NULL
FROM
  webhook_deliveries d
WHERE
  d.id = $1;

-- WebhooksRepository.record (a failure, the webhook gone)
START TRANSACTION;
-- params: ["00000000-0000-4000-a000-000000000001"]
SELECT
  consecutive_failures,
  failing_since,
  status
FROM
  webhooks
WHERE
  id = $1
FOR NO KEY UPDATE;
COMMIT;

-- WebhooksRepository.purgeFinished
-- params: ["2024-01-01T00:00:00.000Z",1000]
DELETE FROM webhook_deliveries
WHERE
  id IN (
    SELECT
      id
    FROM
      webhook_deliveries
    WHERE
      created_at < $1
      AND status <> 'pending'
    ORDER BY
      created_at
    LIMIT
      $2
    FOR UPDATE
      SKIP LOCKED
  );

-- WebhooksRepository.clearExpiredSecrets
-- params: [1000]
UPDATE webhooks
SET
  previous_secret = NULL,
  previous_secret_expires_at = NULL
WHERE
  id IN (
    SELECT
      id
    FROM
      webhooks
    WHERE
      previous_secret IS NOT NULL
      AND previous_secret_expires_at <= now()
    ORDER BY
      previous_secret_expires_at
    LIMIT
      $1
    FOR UPDATE
      SKIP LOCKED
  );

-- WebhooksRepository.failPending
-- params: ["00000000-0000-4000-a000-000000000000"]
UPDATE webhook_deliveries
SET
  status = 'failed',
  next_attempt_at = NULL
WHERE
  webhook_id = $1
  AND status = 'pending';

-- WebhooksRepository.attempts
-- params: ["00000000-0000-4000-a000-000000000000",null,null,50]
SELECT
  w.organization_id,
  page.*
FROM
  webhooks w
  LEFT JOIN LATERAL (
    SELECT
      a.id::text,
      a.delivery_id,
      d.event_id::text,
      d.event_type,
      a.attempt,
      a.response_status,
      a.error,
      a.duration_ms,
      a.attempted_at,
      a.next_attempt_at,
      d.status
    FROM
      webhook_attempts a
      JOIN webhook_deliveries d ON d.id = a.delivery_id
    WHERE
      a.webhook_id = w.id
      AND (
        $2::bigint IS NULL
        OR a.id < $2::bigint
      )
      AND (
        $3::text IS NULL
        OR d.status = $3::text
      )
    ORDER BY
      a.id DESC
    LIMIT
      $4
  ) page ON true
WHERE
  w.id = $1;

-- WebhooksRepository.attempts (by status, before an attempt)
-- params: ["00000000-0000-4000-a000-000000000000","100","failed",50]
SELECT
  w.organization_id,
  page.*
FROM
  webhooks w
  LEFT JOIN LATERAL (
    SELECT
      a.id::text,
      a.delivery_id,
      d.event_id::text,
      d.event_type,
      a.attempt,
      a.response_status,
      a.error,
      a.duration_ms,
      a.attempted_at,
      a.next_attempt_at,
      d.status
    FROM
      webhook_attempts a
      JOIN webhook_deliveries d ON d.id = a.delivery_id
    WHERE
      a.webhook_id = w.id
      AND (
        $2::bigint IS NULL
        OR a.id < $2::bigint
      )
      AND (
        $3::text IS NULL
        OR d.status = $3::text
      )
    ORDER BY
      a.id DESC
    LIMIT
      $4
  ) page ON true
WHERE
  w.id = $1;

-- WebhooksRepository.redeliver
-- params: ["00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000"]
WITH
copy AS (
  INSERT INTO
    webhook_deliveries (
      webhook_id,
      organization_id,
      event_id,
      event_type,
      next_attempt_at,
      event
    )
  SELECT
    d.webhook_id,
    d.organization_id,
    d.event_id,
    d.event_type,
    now(),
    d.event
  FROM
    webhook_deliveries d
  WHERE
    d.id = $1
    AND d.webhook_id = $2
  RETURNING
    id,
    event_id::text,
    event_type,
    status,
    created_at
),
woken AS (
  SELECT
    pg_notify ('webhook_deliveries', '')
  FROM
  copy
)
SELECT
  copy.*
FROM
copy,
woken;
