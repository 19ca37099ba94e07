-- Written by `npm run sql:queries` from the @GenerateSql samples in src/bulk-actions/bulk-actions.repository.ts: do not edit.

-- BulkActionsRepository.lockOrganization
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  pg_advisory_xact_lock(1651862635, hashtext ($1));

-- BulkActionsRepository.unfinishedCount
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  count(*)::int AS n
FROM
  bulk_actions
WHERE
  organization_id = $1
  AND status IN ('queued', 'running');

-- BulkActionsRepository.insert
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001","cancel",{},"sample","org_admin"]
INSERT INTO
  bulk_actions AS ba (
    organization_id,
    flow_id,
    action,
    status,
    selection,
    matched,
    created_by,
    created_by_role
  )
VALUES
  ($1, $2, $3, 'queued', $4, 0, $5, $6)
RETURNING
  ba.id,
  ba.organization_id,
  ba.flow_id,
  ba.action,
  ba.status,
  ba.selection,
  ba.matched,
  ba.processed,
  ba.succeeded,
  ba.failed,
  ba.created_by,
  ba.created_by_role,
  to_char(
    ba.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    ba.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  to_char(
    ba.finished_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS finished_at;

-- BulkActionsRepository.freeze
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001",["queued","running"],"00000000-0000-4000-a000-000000000000",100000]
WITH
  frozen AS (
    INSERT INTO
      bulk_action_items (bulk_action_id, seq, flow_execution_id)
    SELECT
      $4::uuid,
      row_number() OVER (
        ORDER BY
          x.created_at,
          x.id
      ),
      x.id
    FROM
      (
        SELECT
          fe.id,
          fe.created_at
        FROM
          flow_executions fe
        WHERE
          fe.flow_id = $1
          AND fe.status <> 'deleted'
          AND fe.status = ANY ($3)
          AND fe.organization_id = $2::uuid
        ORDER BY
          fe.created_at,
          fe.id
        LIMIT
          $5::int + 1
      ) x
    RETURNING
      1
  )
SELECT
  count(*)::int AS n
FROM
  frozen;

-- BulkActionsRepository.setMatched
-- params: ["00000000-0000-4000-a000-000000000000",5]
UPDATE bulk_actions ba
SET
  matched = $2::int,
  status = CASE
    WHEN $2::int = 0 THEN 'completed'
    ELSE ba.status
  END,
  finished_at = CASE
    WHEN $2::int = 0 THEN clock_timestamp()
  END
WHERE
  ba.id = $1
RETURNING
  ba.id,
  ba.organization_id,
  ba.flow_id,
  ba.action,
  ba.status,
  ba.selection,
  ba.matched,
  ba.processed,
  ba.succeeded,
  ba.failed,
  ba.created_by,
  ba.created_by_role,
  to_char(
    ba.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    ba.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  to_char(
    ba.finished_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS finished_at;

-- BulkActionsRepository.findById
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  ba.id,
  ba.organization_id,
  ba.flow_id,
  ba.action,
  ba.status,
  ba.selection,
  ba.matched,
  ba.processed,
  ba.succeeded,
  ba.failed,
  ba.created_by,
  ba.created_by_role,
  to_char(
    ba.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    ba.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  to_char(
    ba.finished_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS finished_at
FROM
  bulk_actions ba
WHERE
  ba.id = $1;

-- BulkActionsRepository.list (first page)
-- params: ["00000000-0000-4000-a000-000000000000",50]
SELECT
  ba.id,
  ba.organization_id,
  ba.flow_id,
  ba.action,
  ba.status,
  ba.selection,
  ba.matched,
  ba.processed,
  ba.succeeded,
  ba.failed,
  ba.created_by,
  ba.created_by_role,
  to_char(
    ba.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    ba.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  to_char(
    ba.finished_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS finished_at
FROM
  bulk_actions ba
WHERE
  ba.organization_id = $1
ORDER BY
  ba.created_at DESC,
  ba.id DESC
LIMIT
  $2;

-- BulkActionsRepository.list (after a cursor)
-- params: ["00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000"]
SELECT
  1
FROM
  bulk_actions
WHERE
  id = $1
  AND organization_id = $2;

-- BulkActionsRepository.items (all)
-- params: ["00000000-0000-4000-a000-000000000000",null,0,100]
SELECT
  i.seq,
  i.flow_execution_id,
  i.outcome,
  i.error,
  to_char(
    i.processed_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS processed_at
FROM
  bulk_action_items i
WHERE
  i.bulk_action_id = $1
  AND (
    $2::text IS NULL
    OR i.outcome = $2
  )
  AND i.seq > $3
ORDER BY
  i.seq
LIMIT
  $4;

-- BulkActionsRepository.items (failed)
-- params: ["00000000-0000-4000-a000-000000000000","failed",100,100]
SELECT
  i.seq,
  i.flow_execution_id,
  i.outcome,
  i.error,
  to_char(
    i.processed_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS processed_at
FROM
  bulk_action_items i
WHERE
  i.bulk_action_id = $1
  AND (
    $2::text IS NULL
    OR i.outcome = $2
  )
  AND i.seq > $3
ORDER BY
  i.seq
LIMIT
  $4;

-- BulkActionsRepository.cancel
-- params: ["00000000-0000-4000-a000-000000000000"]
UPDATE bulk_actions ba
SET
  status = 'cancelled',
  finished_at = clock_timestamp(),
  updated_at = clock_timestamp()
WHERE
  ba.id = $1
  AND ba.status IN ('queued', 'running')
RETURNING
  ba.id,
  ba.organization_id,
  ba.flow_id,
  ba.action,
  ba.status,
  ba.selection,
  ba.matched,
  ba.processed,
  ba.succeeded,
  ba.failed,
  ba.created_by,
  ba.created_by_role,
  to_char(
    ba.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    ba.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  to_char(
    ba.finished_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS finished_at;

-- BulkActionsRepository.claim
SELECT
  ba.id,
  ba.organization_id,
  ba.flow_id,
  ba.action,
  ba.status,
  ba.selection,
  ba.matched,
  ba.processed,
  ba.succeeded,
  ba.failed,
  ba.created_by,
  ba.created_by_role,
  to_char(
    ba.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    ba.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  to_char(
    ba.finished_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS finished_at
FROM
  bulk_actions ba
WHERE
  ba.status IN ('queued', 'running')
ORDER BY
  ba.created_at
LIMIT
  1
FOR UPDATE
  SKIP LOCKED;

-- BulkActionsRepository.pending
-- params: ["00000000-0000-4000-a000-000000000000",100]
SELECT
  seq,
  flow_execution_id
FROM
  bulk_action_items
WHERE
  bulk_action_id = $1
  AND outcome = 'pending'
ORDER BY
  seq
LIMIT
  $2;

-- BulkActionsRepository.recordOutcomes
-- params: ["00000000-0000-4000-a000-000000000000","[{\"seq\":1,\"outcome\":\"failed\",\"error\":{\"code\":\"conflict\",\"message\":\"sample\"}}]"]
UPDATE bulk_action_items i
SET
  outcome = o.outcome,
  error = o.error,
  processed_at = clock_timestamp()
FROM
  jsonb_to_recordset($2::jsonb) AS o (seq integer, outcome text, error jsonb)
WHERE
  i.bulk_action_id = $1
  AND i.seq = o.seq
  AND i.outcome = 'pending';

-- BulkActionsRepository.advance
-- params: ["00000000-0000-4000-a000-000000000000",3,1,"running"]
UPDATE bulk_actions ba
SET
  processed = ba.processed + $2::int + $3::int,
  succeeded = ba.succeeded + $2::int,
  failed = ba.failed + $3::int,
  status = $4::text,
  finished_at = CASE
    WHEN $4::text = 'running' THEN NULL
    ELSE clock_timestamp()
  END,
  updated_at = clock_timestamp()
WHERE
  ba.id = $1
RETURNING
  ba.id,
  ba.organization_id,
  ba.flow_id,
  ba.action,
  ba.status,
  ba.selection,
  ba.matched,
  ba.processed,
  ba.succeeded,
  ba.failed,
  ba.created_by,
  ba.created_by_role,
  to_char(
    ba.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    ba.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  to_char(
    ba.finished_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS finished_at;
