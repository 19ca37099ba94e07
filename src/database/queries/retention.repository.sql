-- Written by `npm run sql:queries` from the @GenerateSql samples in src/retention/retention.repository.ts: do not edit.

-- RetentionRepository.findDue
-- params: [100]
SELECT
  due.organization_id,
  due.id
FROM
  flows f
  CROSS JOIN LATERAL (
    SELECT
      fe.organization_id,
      fe.id
    FROM
      flow_executions fe
    WHERE
      fe.flow_id = f.id
      AND fe.status IN ('completed', 'failed', 'cancelled')
      AND fe.terminal_at <= clock_timestamp() - make_interval(
        secs => (f.settings #>> '{ttl,seconds}')::double precision
      )
    ORDER BY
      fe.terminal_at
    LIMIT
      $1
  ) due
WHERE
  f.settings #>> '{ttl,seconds}' IS NOT NULL
LIMIT
  $1;

-- RetentionRepository.tryLockOrganization
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  1
FROM
  organizations
WHERE
  id = $1
FOR UPDATE
  SKIP LOCKED;

-- RetentionRepository.deleteDue
-- params: [["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001"]]
WITH
  due AS (
    SELECT
      fe.id,
      fe.status
    FROM
      flow_executions fe
      JOIN flows f ON f.id = fe.flow_id
    WHERE
      fe.id = ANY ($1::uuid[])
      AND fe.status IN ('completed', 'failed', 'cancelled')
      AND fe.terminal_at <= clock_timestamp() - make_interval(
        secs => (f.settings #>> '{ttl,seconds}')::double precision
      )
    FOR NO KEY UPDATE OF
      fe SKIP LOCKED
  )
UPDATE flow_executions fe
SET
  status = 'deleted',
  modified_by = 'retention',
  updated_at = GREATEST(
    clock_timestamp(),
    fe.updated_at + interval '1 microsecond'
  )
FROM
  due
WHERE
  fe.id = due.id
RETURNING
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input,
  fe.run_number,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  due.status AS previous_status;
