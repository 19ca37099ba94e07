-- Written by `npm run sql:queries` from the @GenerateSql samples in src/task-executions/task-executions.repository.ts: do not edit.

-- TaskExecutionsRepository.insert
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001","extract",0,"sample","running","{\"file\":\"a.pdf\"}","2024-01-01T00:00:00.000000Z"]
INSERT INTO
  task_executions (
    organization_id,
    flow_execution_id,
    task_name,
    task_execution_idx,
    modified_by,
    processing_status,
    input,
    started_at,
    created_at,
    updated_at
  )
VALUES
  (
    $1,
    $2,
    $3,
    $4,
    $5,
    $6,
    $7::jsonb,
    $8,
    clock_timestamp(),
    clock_timestamp()
  )
RETURNING
  id,
  organization_id,
  flow_execution_id,
  task_name,
  task_execution_idx,
  processing_status,
  edited_status,
  stale_status,
  input,
  output,
  error,
  source_task_executions,
  started_at,
  completed_at,
  credits,
  modified_by,
  created_at,
  updated_at;

-- TaskExecutionsRepository.findById
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  te.id,
  te.organization_id,
  te.flow_execution_id,
  te.task_name,
  te.task_execution_idx,
  te.processing_status,
  te.edited_status,
  te.stale_status,
  te.input,
  te.output,
  te.error,
  te.source_task_executions,
  te.started_at,
  te.completed_at,
  te.credits,
  te.modified_by,
  te.created_at,
  te.updated_at,
  fe.status AS parent_status,
  fe.traceparent,
  fe.tracestate
FROM
  task_executions te
  JOIN flow_executions fe ON fe.id = te.flow_execution_id
WHERE
  te.id = $1;

-- TaskExecutionsRepository.reload
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  te.id,
  te.organization_id,
  te.flow_execution_id,
  te.task_name,
  te.task_execution_idx,
  te.processing_status,
  te.edited_status,
  te.stale_status,
  te.input,
  te.output,
  te.error,
  te.source_task_executions,
  te.started_at,
  te.completed_at,
  te.credits,
  te.modified_by,
  te.created_at,
  te.updated_at
FROM
  task_executions te
WHERE
  te.id = $1;

-- TaskExecutionsRepository.lockByKey
-- params: ["00000000-0000-4000-a000-000000000001","extract",0,"00000000-0000-4000-a000-000000000000","{\"text\":\"done\"}"]
SELECT
  te.id,
  te.organization_id,
  te.flow_execution_id,
  te.task_name,
  te.task_execution_idx,
  te.processing_status,
  te.edited_status,
  te.stale_status,
  te.input,
  te.output,
  te.error,
  te.source_task_executions,
  te.started_at,
  te.completed_at,
  te.credits,
  te.modified_by,
  te.created_at,
  te.updated_at,
  te.output IS DISTINCT FROM $5::jsonb AS output_changed
FROM
  task_executions te
WHERE
  te.flow_execution_id = $1
  AND te.task_name = $2
  AND te.task_execution_idx = $3
  AND te.organization_id = $4
  AND te.processing_status <> 'deleted'
FOR UPDATE;

-- TaskExecutionsRepository.update
-- params: ["00000000-0000-4000-a000-000000000000","sample","completed","{\"text\":\"done\"}","2024-01-01T00:00:00.000000Z",3]
UPDATE task_executions te
SET
  modified_by = $2,
  updated_at = GREATEST(
    clock_timestamp(),
    te.updated_at + interval '1 microsecond'
  ),
  processing_status = $3,
  output = $4::jsonb,
  completed_at = $5,
  credits = $6
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
  te.input,
  te.output,
  te.error,
  te.source_task_executions,
  te.started_at,
  te.completed_at,
  te.credits,
  te.modified_by,
  te.created_at,
  te.updated_at;

-- TaskExecutionsRepository.markLatestStale
-- params: ["00000000-0000-4000-a000-000000000000",["load","notify"]]
UPDATE task_executions te
SET
  stale_status = 'stale',
  updated_at = GREATEST(
    clock_timestamp(),
    te.updated_at + interval '1 microsecond'
  )
WHERE
  te.flow_execution_id = $1
  AND te.task_name = ANY ($2::text[])
  AND te.processing_status <> 'deleted'
  AND te.task_execution_idx = (
    SELECT
      max(x.task_execution_idx)
    FROM
      task_executions x
    WHERE
      x.flow_execution_id = te.flow_execution_id
      AND x.task_name = te.task_name
      AND x.processing_status <> 'deleted'
  )
RETURNING
  te.id,
  te.organization_id,
  te.flow_execution_id,
  te.task_name,
  te.task_execution_idx,
  te.processing_status,
  te.edited_status,
  te.stale_status,
  te.input,
  te.output,
  te.error,
  te.source_task_executions,
  te.started_at,
  te.completed_at,
  te.credits,
  te.modified_by,
  te.created_at,
  te.updated_at;

-- TaskExecutionsRepository.hasStale
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  EXISTS (
    SELECT
      1
    FROM
      task_executions
    WHERE
      flow_execution_id = $1
      AND stale_status = 'stale'
      AND processing_status <> 'deleted'
  ) AS stale;

-- TaskExecutionsRepository.saveTags (replace)
-- params: ["00000000-0000-4000-a000-000000000001","extract","00000000-0000-4000-a000-000000000000",["customer"],["acme"],"sample"]
UPDATE task_execution_tags
SET
  status = 'deleted',
  modified_by = $6,
  updated_at = clock_timestamp()
WHERE
  flow_execution_id = $1
  AND task_name = $2
  AND organization_id = $3
  AND status = 'active'
  AND (tag_type, tag) NOT IN (
    SELECT
      *
    FROM
      unnest($4::text[], $5::text[])
  );
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001","extract",["customer"],["acme"],"sample"]
INSERT INTO
  task_execution_tags AS t (
    organization_id,
    flow_execution_id,
    flow_id,
    execution_deleted,
    task_name,
    tag_type,
    tag,
    modified_by,
    created_at,
    updated_at
  )
SELECT
  $1,
  $2,
  fe.flow_id,
  fe.status = 'deleted',
  $3,
  item.tag_type,
  item.tag,
  $6,
  clock_timestamp(),
  clock_timestamp()
FROM
  unnest($4::text[], $5::text[]) WITH ORDINALITY AS item (tag_type, tag, n)
  JOIN flow_executions fe ON fe.id = $2
ORDER BY
  item.n
ON CONFLICT ON CONSTRAINT task_execution_tags_uq DO UPDATE
SET
  status = 'active',
  modified_by = EXCLUDED.modified_by,
  updated_at = clock_timestamp()
WHERE
  t.status <> 'active';
-- params: ["00000000-0000-4000-a000-000000000001","extract"]
SELECT
  count(*)::int AS n
FROM
  task_execution_tags
WHERE
  flow_execution_id = $1
  AND task_name = $2
  AND status = 'active';

-- TaskExecutionsRepository.activeTags
-- params: ["00000000-0000-4000-a000-000000000000",["00000000-0000-4000-a000-000000000001"],["extract"]]
SELECT
  id,
  organization_id,
  flow_execution_id,
  task_name,
  tag_type,
  tag,
  tag_metadata,
  status,
  modified_by,
  created_at,
  updated_at
FROM
  task_execution_tags
WHERE
  organization_id = $1
  AND status = 'active'
  AND (flow_execution_id, task_name) IN (
    SELECT
      *
    FROM
      unnest($2::uuid[], $3::text[])
  )
ORDER BY
  created_at,
  id;

-- TaskExecutionsRepository.insertTaskStatuses
-- params: ["00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000",["extract","load"],["running","queued"]]
INSERT INTO
  flow_task_statuses (
    organization_id,
    flow_execution_id,
    task_name,
    status,
    created_at
  )
SELECT
  $1,
  $2,
  item.task_name,
  item.status,
  clock_timestamp()
FROM
  unnest($3::text[], $4::text[]) WITH ORDINALITY AS item (task_name, status, n)
ORDER BY
  item.n
RETURNING
  id,
  flow_execution_id,
  task_name,
  status,
  created_at,
  organization_id;

-- TaskExecutionsRepository.list (organization)
-- params: ["00000000-0000-4000-a000-000000000000",101,2097152]
SELECT
  true AS cursor_found,
  page.*
FROM
  (
    SELECT
      1
  ) one
  LEFT JOIN LATERAL (
    SELECT
      id,
      organization_id,
      flow_execution_id,
      task_name,
      task_execution_idx,
      processing_status,
      edited_status,
      stale_status,
      input,
      output,
      error,
      source_task_executions,
      started_at,
      completed_at,
      credits,
      modified_by,
      created_at,
      updated_at,
      traceparent,
      tracestate,
      fetched
    FROM
      (
        SELECT
          w.*,
          sum(w.bytes) OVER (
            ORDER BY
              w.created_at DESC,
              w.id DESC ROWS UNBOUNDED PRECEDING
          ) - w.bytes AS bytes_before,
          count(*) OVER () AS fetched
        FROM
          (
            SELECT
              te.id,
              te.organization_id,
              te.flow_execution_id,
              te.task_name,
              te.task_execution_idx,
              te.processing_status,
              te.edited_status,
              te.stale_status,
              te.input,
              te.output,
              te.error,
              te.source_task_executions,
              te.started_at,
              te.completed_at,
              te.credits,
              te.modified_by,
              te.created_at,
              te.updated_at,
              fe.traceparent,
              fe.tracestate,
              (
                600 + coalesce(octet_length(fe.tracestate), 0) + coalesce(pg_column_size(te.input), 0) + coalesce(pg_column_size(te.output), 0) + coalesce(pg_column_size(te.error), 0) + coalesce(pg_column_size(te.source_task_executions), 0) + 350 * (
                  SELECT
                    count(*)
                  FROM
                    task_execution_tags tg
                  WHERE
                    tg.flow_execution_id = te.flow_execution_id
                    AND tg.task_name = te.task_name
                    AND tg.status = 'active'
                )
              ) AS bytes
            FROM
              task_executions te
              JOIN flow_executions fe ON fe.id = te.flow_execution_id
            WHERE
              te.organization_id = $1
              AND fe.status <> 'deleted'
              AND te.processing_status <> 'deleted'
            ORDER BY
              te.created_at DESC,
              te.id DESC
            LIMIT
              $2
          ) w
      ) sized
    WHERE
      bytes_before < $3
  ) page ON true
ORDER BY
  page.created_at DESC,
  page.id DESC;

-- TaskExecutionsRepository.list (one task of an execution, after a cursor)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001","extract",0,"00000000-0000-4000-a000-000000000001",101,2097152]
SELECT
  c.id IS NOT NULL AS cursor_found,
  page.*
FROM
  (
    SELECT
      1
  ) one
  LEFT JOIN task_executions c ON c.id = $5
  AND c.organization_id = $1
  LEFT JOIN LATERAL (
    SELECT
      id,
      organization_id,
      flow_execution_id,
      task_name,
      task_execution_idx,
      processing_status,
      edited_status,
      stale_status,
      input,
      output,
      error,
      source_task_executions,
      started_at,
      completed_at,
      credits,
      modified_by,
      created_at,
      updated_at,
      traceparent,
      tracestate,
      fetched
    FROM
      (
        SELECT
          w.*,
          sum(w.bytes) OVER (
            ORDER BY
              w.created_at DESC,
              w.id DESC ROWS UNBOUNDED PRECEDING
          ) - w.bytes AS bytes_before,
          count(*) OVER () AS fetched
        FROM
          (
            SELECT
              te.id,
              te.organization_id,
              te.flow_execution_id,
              te.task_name,
              te.task_execution_idx,
              te.processing_status,
              te.edited_status,
              te.stale_status,
              te.input,
              te.output,
              te.error,
              te.source_task_executions,
              te.started_at,
              te.completed_at,
              te.credits,
              te.modified_by,
              te.created_at,
              te.updated_at,
              fe.traceparent,
              fe.tracestate,
              (
                600 + coalesce(octet_length(fe.tracestate), 0) + coalesce(pg_column_size(te.input), 0) + coalesce(pg_column_size(te.output), 0) + coalesce(pg_column_size(te.error), 0) + coalesce(pg_column_size(te.source_task_executions), 0) + 350 * (
                  SELECT
                    count(*)
                  FROM
                    task_execution_tags tg
                  WHERE
                    tg.flow_execution_id = te.flow_execution_id
                    AND tg.task_name = te.task_name
                    AND tg.status = 'active'
                )
              ) AS bytes
            FROM
              task_executions te
              JOIN flow_executions fe ON fe.id = te.flow_execution_id
            WHERE
              te.organization_id = $1
              AND fe.status <> 'deleted'
              AND te.processing_status <> 'deleted'
              AND te.flow_execution_id = $2
              AND te.task_name = $3
              AND te.task_execution_idx = $4
              AND (te.created_at, te.id) < (c.created_at, c.id)
            ORDER BY
              te.created_at DESC,
              te.id DESC
            LIMIT
              $6
          ) w
      ) sized
    WHERE
      bytes_before < $7
  ) page ON true
ORDER BY
  page.created_at DESC,
  page.id DESC;
