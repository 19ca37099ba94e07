-- Written by `npm run sql:queries` from the @GenerateSql samples in src/task-executions/task-executions.repository.ts: do not edit.

-- TaskExecutionsRepository.insert
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001","extract",0,"sample","running","{\"file\":\"a.pdf\"}","2024-01-01T00:00:00.000000Z"]
INSERT INTO
  task_executions AS te (
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
  te.input::text AS input,
  te.output::text AS output,
  te.error::text AS error,
  te.source_task_executions::text AS source_task_executions,
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

-- TaskExecutionsRepository.heartbeat
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001","{\"step\":3,\"of\":10}",true]
WITH
  target AS (
    SELECT
      te.id,
      te.organization_id,
      te.processing_status,
      fe.status AS run_status,
      fe.traceparent,
      fe.tracestate
    FROM
      task_executions te
      JOIN flow_executions fe ON fe.id = te.flow_execution_id
    WHERE
      te.id = $1
  ),
  beat AS (
    UPDATE task_executions te
    SET
      heartbeat_at = clock_timestamp(),
      heartbeat_details = CASE
        WHEN $4 THEN $3::jsonb
        ELSE te.heartbeat_details
      END
    FROM
      target
    WHERE
      te.id = target.id
      AND target.organization_id = $2
      AND target.run_status <> 'deleted'
      AND te.processing_status IN (
        'queued',
        'running',
        'awaiting_input',
        'cancel_requested'
      )
    RETURNING
      te.id,
      te.timeout_at
  )
SELECT
  target.organization_id,
  target.processing_status,
  target.run_status,
  target.traceparent,
  target.tracestate,
  beat.id IS NOT NULL AS beaten,
  to_char(
    beat.timeout_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS lease_expires_at
FROM
  target
  LEFT JOIN beat ON true;

-- TaskExecutionsRepository.heartbeat (without details)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001",null,false]
WITH
  target AS (
    SELECT
      te.id,
      te.organization_id,
      te.processing_status,
      fe.status AS run_status,
      fe.traceparent,
      fe.tracestate
    FROM
      task_executions te
      JOIN flow_executions fe ON fe.id = te.flow_execution_id
    WHERE
      te.id = $1
  ),
  beat AS (
    UPDATE task_executions te
    SET
      heartbeat_at = clock_timestamp(),
      heartbeat_details = CASE
        WHEN $4 THEN $3::jsonb
        ELSE te.heartbeat_details
      END
    FROM
      target
    WHERE
      te.id = target.id
      AND target.organization_id = $2
      AND target.run_status <> 'deleted'
      AND te.processing_status IN (
        'queued',
        'running',
        'awaiting_input',
        'cancel_requested'
      )
    RETURNING
      te.id,
      te.timeout_at
  )
SELECT
  target.organization_id,
  target.processing_status,
  target.run_status,
  target.traceparent,
  target.tracestate,
  beat.id IS NOT NULL AS beaten,
  to_char(
    beat.timeout_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS lease_expires_at
FROM
  target
  LEFT JOIN beat ON true;

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
  te.id = $1;

-- TaskExecutionsRepository.lockByKey
-- params: ["00000000-0000-4000-a000-000000000001","extract",0,"00000000-0000-4000-a000-000000000000","{\"text\":\"done\"}"]
SELECT
  te.id,
  te.processing_status,
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

-- TaskExecutionsRepository.report
-- params: ["00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000",["extract","load"],["running","queued"]]
WITH
  run AS (
    SELECT
      fe.organization_id,
      fe.status,
      fe.flow_version,
      v.task_names,
      fe.organization_id = $2
      AND fe.status <> 'deleted'
      AND $3::text[] <@ v.task_names AS accepted
    FROM
      flow_executions fe
      JOIN flow_versions v ON v.flow_id = fe.flow_id
      AND v.version = fe.flow_version
    WHERE
      fe.id = $1
  ),
  written AS (
    INSERT INTO
      flow_task_statuses (
        organization_id,
        flow_execution_id,
        task_name,
        status,
        created_at
      )
    SELECT
      $2,
      $1,
      item.task_name,
      item.status,
      clock_timestamp()
    FROM
      run,
      unnest($3::text[], $4::text[]) WITH ORDINALITY AS item (task_name, status, n)
    WHERE
      run.accepted
    ORDER BY
      item.n
    RETURNING
      id,
      flow_execution_id,
      task_name,
      status,
      created_at,
      organization_id
  )
SELECT
  run.organization_id AS run_organization_id,
  run.status AS run_status,
  run.flow_version AS run_flow_version,
  CASE
    WHEN run.accepted THEN NULL
    ELSE run.task_names
  END AS run_task_names,
  written.*
FROM
  run
  LEFT JOIN written ON true;

-- TaskExecutionsRepository.report (a task awaiting input)
-- params: ["00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000",["review"],["awaiting_input"],{"moves":[{"from":["running"],"to":"awaiting_input"}],"otherwise":"ignore"},["running","awaiting_input","cancel_requested"],"sample","task_awaiting_input",10]
WITH
  run AS (
    SELECT
      fe.organization_id,
      fe.status,
      fe.flow_version,
      v.task_names,
      fe.organization_id = $2
      AND fe.status <> 'deleted'
      AND $3::text[] <@ v.task_names AS accepted
    FROM
      flow_executions fe
      JOIN flow_versions v ON v.flow_id = fe.flow_id
      AND v.version = fe.flow_version
    WHERE
      fe.id = $1
  ),
  changed AS (
    SELECT
      c.outcome,
      c.previous_status,
      c.refused_to,
      (c.fe).id,
      (c.fe).organization_id,
      (c.fe).status
    FROM
      run
      CROSS JOIN LATERAL change_flow_execution_status ($2, $1, $5, NULL, NULL, $6, $7, $8, $9) c
    WHERE
      run.accepted
  ),
  written AS (
    INSERT INTO
      flow_task_statuses (
        organization_id,
        flow_execution_id,
        task_name,
        status,
        created_at
      )
    SELECT
      $2,
      $1,
      item.task_name,
      item.status,
      clock_timestamp()
    FROM
      run,
      unnest($3::text[], $4::text[]) WITH ORDINALITY AS item (task_name, status, n)
    WHERE
      run.accepted
      AND EXISTS (
        SELECT
          1
        FROM
          changed
        WHERE
          changed.outcome <> 'inaccessible'
      )
    ORDER BY
      item.n
    RETURNING
      id,
      flow_execution_id,
      task_name,
      status,
      created_at,
      organization_id
  )
SELECT
  run.organization_id AS run_organization_id,
  run.status AS run_status,
  run.flow_version AS run_flow_version,
  CASE
    WHEN run.accepted THEN NULL
    ELSE run.task_names
  END AS run_task_names,
  (
    SELECT
      json_agg(changed)
    FROM
      changed
  ) AS run_changes,
  written.*
FROM
  run
  LEFT JOIN written ON true;

-- TaskExecutionsRepository.reportMany
-- params: ["00000000-0000-4000-a000-000000000000","[{\"run_id\":\"00000000-0000-4000-a000-000000000001\",\"task_names\":[\"extract\",\"load\"],\"statuses\":[\"running\",\"queued\"]},{\"run_id\":\"00000000-0000-4000-a000-000000000001\",\"task_names\":[\"extract\"],\"statuses\":[\"completed\"]}]"]
WITH
  item AS (
    SELECT
      i.n,
      e.run_id,
      e.task_names,
      e.statuses
    FROM
      jsonb_array_elements($2::jsonb) WITH ORDINALITY AS i (value, n),
      jsonb_to_record(i.value) AS e (run_id uuid, task_names text[], statuses text[])
  ),
  run AS (
    SELECT
      item.n,
      fe.organization_id,
      fe.status,
      fe.flow_version,
      v.task_names,
      fe.organization_id = $1
      AND fe.status <> 'deleted'
      AND item.task_names <@ v.task_names AS accepted
    FROM
      item
      JOIN flow_executions fe ON fe.id = item.run_id
      JOIN flow_versions v ON v.flow_id = fe.flow_id
      AND v.version = fe.flow_version
  ),
  planned AS (
    SELECT
      gen_random_uuid() AS id,
      s.*
    FROM
      (
        SELECT
          item.n,
          st.k,
          item.run_id,
          st.task_name,
          st.status
        FROM
          item
          JOIN run ON run.n = item.n
          AND run.accepted
          CROSS JOIN LATERAL unnest(item.task_names, item.statuses) WITH ORDINALITY AS st (task_name, status, k)
        ORDER BY
          item.n,
          st.k
      ) s
  ),
  written AS (
    INSERT INTO
      flow_task_statuses (
        id,
        organization_id,
        flow_execution_id,
        task_name,
        status,
        created_at
      )
    SELECT
      p.id,
      $1,
      p.run_id,
      p.task_name,
      p.status,
      clock_timestamp()
    FROM
      planned p
    ORDER BY
      p.n,
      p.k
    RETURNING
      id,
      created_at
  )
SELECT
  item.n,
  run.organization_id AS run_organization_id,
  run.status AS run_status,
  run.flow_version AS run_flow_version,
  CASE
    WHEN run.accepted THEN NULL
    ELSE run.task_names
  END AS run_task_names,
  p.id,
  p.run_id AS flow_execution_id,
  p.task_name,
  p.status,
  w.created_at,
  CASE
    WHEN p.id IS NOT NULL THEN $1::uuid
  END AS organization_id
FROM
  item
  LEFT JOIN run ON run.n = item.n
  LEFT JOIN planned p ON p.n = item.n
  LEFT JOIN written w ON w.id = p.id
ORDER BY
  item.n,
  p.k;

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
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      SELECT
        json_build_object(
          'cursor_found',
          true,
          'fetched',
          max(page.fetched),
          'count',
          count(page.id)::int,
          'last_id',
          (
            array_agg(
              page.id
              ORDER BY
                page.created_at,
                page.id
            )
          ) [1]
        ) AS head,
        '[' || COALESCE(
          string_agg(
            page.json,
            ','
            ORDER BY
              page.created_at DESC,
              page.id DESC
          ),
          ''
        ) || ']' AS body
      FROM
        (
          SELECT
            1
        ) one
        LEFT JOIN LATERAL (
          SELECT
            sized.id,
            sized.created_at,
            sized.fetched,
            row_to_json(item)::text AS json
          FROM
            (
              SELECT
                w.*,
                sum(w.bytes) OVER (
                  ORDER BY
                    w.created_at DESC,
                    w.id DESC ROWS UNBOUNDED PRECEDING
                ) - w.bytes AS bytes_before,
                row_number() OVER (
                  ORDER BY
                    w.created_at DESC,
                    w.id DESC
                ) AS n,
                count(*) OVER () AS fetched
              FROM
                (
                  SELECT
                    te.id,
                    te.created_at,
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
                    te.organization_id = '00000000-0000-4000-a000-000000000000'
                    AND fe.status <> 'deleted'
                    AND te.processing_status <> 'deleted'
                  ORDER BY
                    te.created_at DESC,
                    te.id DESC
                  LIMIT
                    '101'
                ) w
            ) sized
            -- Each row sent read by its key (OFFSET 0 keeps it a nested loop): as a join, a page
            -- estimated at a third of its rows (the byte budget's filter) is hashed against the whole table.
            CROSS JOIN LATERAL (
              SELECT
                *
              FROM
                task_executions t
              WHERE
                t.id = sized.id
              OFFSET
                0
            ) te
            JOIN flow_executions fe ON fe.id = te.flow_execution_id
            CROSS JOIN LATERAL (
              SELECT
                te.id,
                te.flow_execution_id,
                te.task_execution_idx,
                te.task_name,
                to_char(
                  te.created_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS created_at,
                to_char(
                  te.updated_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS updated_at,
                te.modified_by,
                te.processing_status,
                te.edited_status,
                te.stale_status,
                te.input,
                te.output,
                te.error,
                te.organization_id,
                te.source_task_executions,
                to_char(
                  te.started_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS started_at,
                to_char(
                  te.completed_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS completed_at,
                (
                  SELECT
                    coalesce(
                      '[' || string_agg(
                        row_to_json(tag_fields)::text,
                        ','
                        ORDER BY
                          tg.created_at,
                          tg.id
                      ) || ']',
                      '[]'
                    )::json
                  FROM
                    task_execution_tags tg
                    CROSS JOIN LATERAL (
                      SELECT
                        tg.id,
                        tg.flow_execution_id,
                        tg.task_name,
                        tg.tag,
                        tg.tag_type,
                        tg.tag_metadata,
                        tg.status,
                        to_char(
                          tg.created_at AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                        ) AS created_at,
                        to_char(
                          tg.updated_at AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                        ) AS updated_at,
                        tg.modified_by,
                        tg.organization_id
                    ) tag_fields
                  WHERE
                    tg.organization_id = te.organization_id
                    AND tg.flow_execution_id = te.flow_execution_id
                    AND tg.task_name = te.task_name
                    AND tg.status = 'active'
                ) AS tags,
                CASE
                  WHEN 'false' THEN te.credits
                END AS credits,
                fe.traceparent,
                fe.tracestate
            ) item
          WHERE
            sized.bytes_before < '2097152'
            AND sized.n <= '100'
        ) page ON true
    ) q
) TO STDOUT (FORMAT binary);

-- TaskExecutionsRepository.list (one task of an execution, after a cursor)
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      SELECT
        json_build_object(
          'cursor_found',
          bool_or(c.id IS NOT NULL),
          'fetched',
          max(page.fetched),
          'count',
          count(page.id)::int,
          'last_id',
          (
            array_agg(
              page.id
              ORDER BY
                page.created_at,
                page.id
            )
          ) [1]
        ) AS head,
        '[' || COALESCE(
          string_agg(
            page.json,
            ','
            ORDER BY
              page.created_at DESC,
              page.id DESC
          ),
          ''
        ) || ']' AS body
      FROM
        (
          SELECT
            1
        ) one
        LEFT JOIN task_executions c ON c.id = '00000000-0000-4000-a000-000000000001'
        AND c.organization_id = '00000000-0000-4000-a000-000000000000'
        LEFT JOIN LATERAL (
          SELECT
            sized.id,
            sized.created_at,
            sized.fetched,
            row_to_json(item)::text AS json
          FROM
            (
              SELECT
                w.*,
                sum(w.bytes) OVER (
                  ORDER BY
                    w.created_at DESC,
                    w.id DESC ROWS UNBOUNDED PRECEDING
                ) - w.bytes AS bytes_before,
                row_number() OVER (
                  ORDER BY
                    w.created_at DESC,
                    w.id DESC
                ) AS n,
                count(*) OVER () AS fetched
              FROM
                (
                  SELECT
                    te.id,
                    te.created_at,
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
                    te.organization_id = '00000000-0000-4000-a000-000000000000'
                    AND fe.status <> 'deleted'
                    AND te.processing_status <> 'deleted'
                    AND te.flow_execution_id = '00000000-0000-4000-a000-000000000001'
                    AND te.task_name = 'extract'
                    AND te.task_execution_idx = '0'
                    AND (te.created_at, te.id) < (c.created_at, c.id)
                  ORDER BY
                    te.created_at DESC,
                    te.id DESC
                  LIMIT
                    '101'
                ) w
            ) sized
            -- Each row sent read by its key (OFFSET 0 keeps it a nested loop): as a join, a page
            -- estimated at a third of its rows (the byte budget's filter) is hashed against the whole table.
            CROSS JOIN LATERAL (
              SELECT
                *
              FROM
                task_executions t
              WHERE
                t.id = sized.id
              OFFSET
                0
            ) te
            JOIN flow_executions fe ON fe.id = te.flow_execution_id
            CROSS JOIN LATERAL (
              SELECT
                te.id,
                te.flow_execution_id,
                te.task_execution_idx,
                te.task_name,
                to_char(
                  te.created_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS created_at,
                to_char(
                  te.updated_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS updated_at,
                te.modified_by,
                te.processing_status,
                te.edited_status,
                te.stale_status,
                te.input,
                te.output,
                te.error,
                te.organization_id,
                te.source_task_executions,
                to_char(
                  te.started_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS started_at,
                to_char(
                  te.completed_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS completed_at,
                (
                  SELECT
                    coalesce(
                      '[' || string_agg(
                        row_to_json(tag_fields)::text,
                        ','
                        ORDER BY
                          tg.created_at,
                          tg.id
                      ) || ']',
                      '[]'
                    )::json
                  FROM
                    task_execution_tags tg
                    CROSS JOIN LATERAL (
                      SELECT
                        tg.id,
                        tg.flow_execution_id,
                        tg.task_name,
                        tg.tag,
                        tg.tag_type,
                        tg.tag_metadata,
                        tg.status,
                        to_char(
                          tg.created_at AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                        ) AS created_at,
                        to_char(
                          tg.updated_at AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                        ) AS updated_at,
                        tg.modified_by,
                        tg.organization_id
                    ) tag_fields
                  WHERE
                    tg.organization_id = te.organization_id
                    AND tg.flow_execution_id = te.flow_execution_id
                    AND tg.task_name = te.task_name
                    AND tg.status = 'active'
                ) AS tags,
                CASE
                  WHEN 'true' THEN te.credits
                END AS credits,
                fe.traceparent,
                fe.tracestate
            ) item
          WHERE
            sized.bytes_before < '2097152'
            AND sized.n <= '100'
        ) page ON true
    ) q
) TO STDOUT (FORMAT binary);

-- TaskExecutionsRepository.findDueRuns
-- params: [100]
SELECT
  te.organization_id,
  te.flow_execution_id AS id
FROM
  task_executions te
WHERE
  te.timeout_at <= now()
ORDER BY
  te.timeout_at
LIMIT
  $1;

-- TaskExecutionsRepository.countOverdue
-- params: [1000,100000]
SELECT
  count(*)::int AS n
FROM
  (
    SELECT
      1
    FROM
      task_executions te
    WHERE
      te.timeout_at <= now() - make_interval(secs => $1 / 1000.0)
    LIMIT
      $2
  ) overdue;

-- TaskExecutionsRepository.timeOutDue
-- params: [["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001"],"task_timeout","heartbeat_timeout","The task ran longer than its task timeout","No heartbeat or report within the task heartbeat timeout"]
WITH
  due AS (
    SELECT
      te.id,
      CASE
        WHEN te.running_deadline_at <= te.timeout_at THEN $2
        ELSE $3
      END AS kind
    FROM
      task_executions te
    WHERE
      te.flow_execution_id = ANY ($1::uuid[])
      AND te.processing_status = 'running'
      AND te.timeout_at <= clock_timestamp()
    ORDER BY
      te.id
    FOR UPDATE
      SKIP LOCKED
  )
UPDATE task_executions te
SET
  processing_status = 'failed',
  completed_at = clock_timestamp(),
  modified_by = 'liveness',
  updated_at = GREATEST(
    clock_timestamp(),
    te.updated_at + interval '1 microsecond'
  ),
  error = jsonb_build_object(
    'code',
    due.kind,
    'message',
    CASE
      WHEN due.kind = $2 THEN $4
      ELSE $5
    END,
    'last_heartbeat_at',
    to_char(
      te.heartbeat_at AT TIME ZONE 'UTC',
      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
    ),
    'heartbeat_seconds',
    te.heartbeat_seconds,
    'deadline_at',
    to_char(
      te.running_deadline_at AT TIME ZONE 'UTC',
      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
    )
  )
FROM
  due
WHERE
  te.id = due.id
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
  te.updated_at,
  due.kind;
