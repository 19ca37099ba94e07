-- Written by `npm run sql:queries` from the @GenerateSql samples in src/task-executions/task-tags.repository.ts: do not edit.

-- TaskTagsRepository.latestAttempts
-- params: [["00000000-0000-4000-a000-000000000000"],["extract"]]
SELECT DISTINCT
  ON (te.flow_execution_id, te.task_name) te.id,
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
  te.updated_at
FROM
  task_executions te
WHERE
  (te.flow_execution_id, te.task_name) IN (
    SELECT
      *
    FROM
      unnest($1::uuid[], $2::text[])
  )
  AND te.processing_status <> 'deleted'
ORDER BY
  te.flow_execution_id,
  te.task_name,
  te.task_execution_idx DESC;

-- TaskTagsRepository.lockTags
-- params: [["[\"00000000-0000-4000-a000-000000000000\",\"extract\",\"customer\",\"acme\"]"]]
SELECT
  pg_advisory_xact_lock(14, h)
FROM
  (
    SELECT DISTINCT
      hashtext (k) AS h
    FROM
      unnest($1::text[]) AS k
    ORDER BY
      1
  ) s;

-- TaskTagsRepository.add
-- params: ["00000000-0000-4000-a000-000000000001","sample",["00000000-0000-4000-a000-000000000000"],["extract"],["customer"],["acme"],["{\"score\":1}"]]
INSERT INTO
  task_execution_tags AS t (
    organization_id,
    flow_execution_id,
    flow_id,
    execution_deleted,
    task_name,
    tag_type,
    tag,
    tag_metadata,
    modified_by,
    created_at,
    updated_at
  )
SELECT
  $1,
  item.fe,
  fe.flow_id,
  fe.status = 'deleted',
  item.task_name,
  item.tag_type,
  item.tag,
  item.metadata::jsonb,
  $2,
  clock_timestamp(),
  clock_timestamp()
FROM
  unnest(
    $3::uuid[],
    $4::text[],
    $5::text[],
    $6::text[],
    $7::text[]
  ) WITH ORDINALITY AS item (fe, task_name, tag_type, tag, metadata, n)
  JOIN flow_executions fe ON fe.id = item.fe
ORDER BY
  item.n
ON CONFLICT ON CONSTRAINT task_execution_tags_uq DO UPDATE
SET
  status = 'active',
  tag_metadata = EXCLUDED.tag_metadata,
  modified_by = EXCLUDED.modified_by,
  updated_at = clock_timestamp()
WHERE
  t.status <> 'active'
RETURNING
  t.flow_execution_id,
  t.task_name,
  t.tag_type,
  t.tag;
-- params: [["00000000-0000-4000-a000-000000000000"],["extract"],100]
SELECT
  count(*)::int AS n
FROM
  task_execution_tags t
WHERE
  (t.flow_execution_id, t.task_name) IN (
    SELECT DISTINCT
      *
    FROM
      unnest($1::uuid[], $2::text[])
  )
  AND t.status = 'active'
GROUP BY
  t.flow_execution_id,
  t.task_name
HAVING
  count(*) > $3
LIMIT
  1;

-- TaskTagsRepository.remove
-- params: ["00000000-0000-4000-a000-000000000001","sample",["00000000-0000-4000-a000-000000000000"],["extract"],["customer"],["acme"]]
UPDATE task_execution_tags t
SET
  status = 'deleted',
  modified_by = $2,
  updated_at = clock_timestamp()
FROM
  unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) AS item (fe, task_name, tag_type, tag)
WHERE
  t.flow_execution_id = item.fe
  AND t.task_name = item.task_name
  AND t.tag_type = item.tag_type
  AND t.tag = item.tag
  AND t.organization_id = $1
  AND t.status = 'active'
RETURNING
  t.flow_execution_id,
  t.task_name,
  t.tag_type,
  t.tag;

-- TaskTagsRepository.listForExecution
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001",null]
SELECT
  fe.organization_id AS execution_organization_id,
  fe.status AS execution_status,
  t.id,
  t.organization_id,
  t.flow_execution_id,
  t.task_name,
  t.tag_type,
  t.tag,
  t.tag_metadata,
  t.status,
  t.modified_by,
  t.created_at,
  t.updated_at
FROM
  flow_executions fe
  LEFT JOIN task_execution_tags t ON t.flow_execution_id = fe.id
  AND t.status = 'active'
  AND fe.organization_id = $2
  AND (
    $3::text IS NULL
    OR t.task_name = $3
  )
WHERE
  fe.id = $1
ORDER BY
  t.created_at,
  t.id;

-- TaskTagsRepository.listForExecution (one task)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001","extract"]
SELECT
  fe.organization_id AS execution_organization_id,
  fe.status AS execution_status,
  t.id,
  t.organization_id,
  t.flow_execution_id,
  t.task_name,
  t.tag_type,
  t.tag,
  t.tag_metadata,
  t.status,
  t.modified_by,
  t.created_at,
  t.updated_at
FROM
  flow_executions fe
  LEFT JOIN task_execution_tags t ON t.flow_execution_id = fe.id
  AND t.status = 'active'
  AND fe.organization_id = $2
  AND (
    $3::text IS NULL
    OR t.task_name = $3
  )
WHERE
  fe.id = $1
ORDER BY
  t.created_at,
  t.id;

-- TaskTagsRepository.flowTags
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001",1000]
WITH RECURSIVE
  walk (label, n) AS (
    (
      SELECT
        first.label,
        1
      FROM
        (
          SELECT
            ((t.tag_type || ':' || t.tag) COLLATE "C") AS label
          FROM
            task_execution_tags t
          WHERE
            t.flow_id = $1
            AND t.status = 'active'
            AND NOT t.execution_deleted
            AND EXISTS (
              SELECT
                1
              FROM
                flow_executions fe
              WHERE
                fe.id = t.flow_execution_id
                AND fe.status <> 'deleted'
            )
          ORDER BY
            ((t.tag_type || ':' || t.tag) COLLATE "C")
          LIMIT
            1
        ) first
    )
    UNION ALL
    SELECT
      step.label,
      walk.n + 1
    FROM
      walk
      CROSS JOIN LATERAL (
        SELECT
          ((t.tag_type || ':' || t.tag) COLLATE "C") AS label
        FROM
          task_execution_tags t
        WHERE
          t.flow_id = $1
          AND t.status = 'active'
          AND NOT t.execution_deleted
          AND ((t.tag_type || ':' || t.tag) COLLATE "C") > walk.label
          AND EXISTS (
            SELECT
              1
            FROM
              flow_executions fe
            WHERE
              fe.id = t.flow_execution_id
              AND fe.status <> 'deleted'
          )
        ORDER BY
          ((t.tag_type || ':' || t.tag) COLLATE "C")
        LIMIT
          1
      ) step
    WHERE
      walk.n < $3
  )
SELECT
  f.organization_id,
  f.deleted,
  CASE
    WHEN f.organization_id = $2
    AND NOT f.deleted THEN ARRAY(
      SELECT
        label
      FROM
        walk
      ORDER BY
        n
    )
  END AS tags
FROM
  flows f
WHERE
  f.id = $1;

-- TaskTagsRepository.flowTags (one task)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001",1000,"extract"]
WITH RECURSIVE
  walk (label, n) AS (
    (
      SELECT
        first.label,
        1
      FROM
        (
          SELECT
            ((t.tag_type || ':' || t.tag) COLLATE "C") AS label
          FROM
            task_execution_tags t
          WHERE
            t.flow_id = $1
            AND t.status = 'active'
            AND NOT t.execution_deleted
            AND t.task_name = $4
            AND EXISTS (
              SELECT
                1
              FROM
                flow_executions fe
              WHERE
                fe.id = t.flow_execution_id
                AND fe.status <> 'deleted'
            )
          ORDER BY
            ((t.tag_type || ':' || t.tag) COLLATE "C")
          LIMIT
            1
        ) first
    )
    UNION ALL
    SELECT
      step.label,
      walk.n + 1
    FROM
      walk
      CROSS JOIN LATERAL (
        SELECT
          ((t.tag_type || ':' || t.tag) COLLATE "C") AS label
        FROM
          task_execution_tags t
        WHERE
          t.flow_id = $1
          AND t.status = 'active'
          AND NOT t.execution_deleted
          AND t.task_name = $4
          AND ((t.tag_type || ':' || t.tag) COLLATE "C") > walk.label
          AND EXISTS (
            SELECT
              1
            FROM
              flow_executions fe
            WHERE
              fe.id = t.flow_execution_id
              AND fe.status <> 'deleted'
          )
        ORDER BY
          ((t.tag_type || ':' || t.tag) COLLATE "C")
        LIMIT
          1
      ) step
    WHERE
      walk.n < $3
  )
SELECT
  f.organization_id,
  f.deleted,
  CASE
    WHEN f.organization_id = $2
    AND NOT f.deleted THEN ARRAY(
      SELECT
        label
      FROM
        walk
      ORDER BY
        n
    )
  END AS tags
FROM
  flows f
WHERE
  f.id = $1;
