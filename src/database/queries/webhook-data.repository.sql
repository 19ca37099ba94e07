-- Written by `npm run sql:queries` from the @GenerateSql samples in src/task-executions/webhook-data.repository.ts: do not edit.

-- WebhookDataRepository.findForTask
-- params: ["00000000-0000-4000-a000-000000000000","approve","{\"approved\":true}"]
SELECT
  id,
  data,
  received_by,
  task_execution_id,
  data = $3::jsonb AS same
FROM
  webhook_data
WHERE
  flow_execution_id = $1
  AND task_name = $2
FOR UPDATE;

-- WebhookDataRepository.insert
-- params: ["00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000","approve","{\"approved\":true}","sample"]
INSERT INTO
  webhook_data (
    organization_id,
    flow_execution_id,
    task_name,
    data,
    received_by,
    created_at
  )
VALUES
  ($1, $2, $3, $4::jsonb, $5, clock_timestamp())
RETURNING
  id;

-- WebhookDataRepository.latestAttempt
-- params: ["00000000-0000-4000-a000-000000000000","approve"]
SELECT
  te.id,
  te.task_name,
  te.processing_status,
  (
    SELECT
      s.status
    FROM
      flow_task_statuses s
    WHERE
      s.flow_execution_id = te.flow_execution_id
      AND s.task_name = te.task_name
    ORDER BY
      s.created_at DESC,
      s.id DESC
    LIMIT
      1
  ) AS reported_status
FROM
  task_executions te
WHERE
  te.flow_execution_id = $1
  AND te.task_name = $2
  AND te.processing_status <> 'deleted'
ORDER BY
  te.task_execution_idx DESC
LIMIT
  1
FOR UPDATE OF
  te;

-- WebhookDataRepository.complete
-- params: ["00000000-0000-4000-a000-000000000000","{\"approved\":true}","sample"]
UPDATE task_executions te
SET
  output = $2::jsonb,
  processing_status = 'completed',
  started_at = COALESCE(te.started_at, clock_timestamp()),
  completed_at = clock_timestamp(),
  modified_by = $3,
  updated_at = GREATEST(
    clock_timestamp(),
    te.updated_at + interval '1 microsecond'
  )
WHERE
  te.id = $1
RETURNING
  te.id,
  te.organization_id,
  te.flow_execution_id,
  te.task_name,
  te.task_execution_idx,
  te.processing_status,
  te.edited_status,
  te.stale_status,
  te.input::text AS input,
  te.output::text AS output,
  te.error::text AS error,
  te.source_task_executions::text AS source_task_executions,
  te.started_at,
  te.completed_at,
  te.credits,
  te.modified_by,
  te.created_at,
  te.updated_at;

-- WebhookDataRepository.markApplied
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001"]
UPDATE webhook_data
SET
  task_execution_id = $2,
  applied_at = clock_timestamp()
WHERE
  id = $1;
