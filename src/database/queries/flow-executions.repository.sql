-- Written by `npm run sql:queries` from the @GenerateSql samples in src/flow-executions/flow-executions.repository.ts: do not edit.

-- FlowExecutionsRepository.readById
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at
FROM
  flow_executions fe
WHERE
  fe.id = $1;

-- FlowExecutionsRepository.readById (with credits)
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  (
    SELECT
      sum(te.credits)
    FROM
      task_executions te
    WHERE
      te.flow_execution_id = fe.id
  ) AS total_credits
FROM
  flow_executions fe
WHERE
  fe.id = $1;

-- FlowExecutionsRepository.readByRunNumber
-- params: ["00000000-0000-4000-a000-000000000000",7]
SELECT
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at
FROM
  flow_executions fe
WHERE
  fe.flow_id = $1
  AND fe.run_number = $2;

-- FlowExecutionsRepository.readByRunNumber (with credits)
-- params: ["00000000-0000-4000-a000-000000000000",7]
SELECT
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  (
    SELECT
      sum(te.credits)
    FROM
      task_executions te
    WHERE
      te.flow_execution_id = fe.id
  ) AS total_credits
FROM
  flow_executions fe
WHERE
  fe.flow_id = $1
  AND fe.run_number = $2;

-- FlowExecutionsRepository.list (first page)
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      SELECT
        json_build_object(
          'flow_organization_id',
          f.organization_id,
          'flow_deleted',
          f.deleted,
          'cursor_found',
          NULL::boolean,
          'fetched',
          max(page.fetched),
          'count',
          count(page.id)::int,
          'last_id',
          (
            array_agg(
              page.id
              ORDER BY
                page.created_at ASC,
                page.id ASC
            )
          ) [1]
        ) AS head,
        '[' || COALESCE(
          string_agg(
            '{"id":"' || page.id || '","created_at":"' || page.created_at || '","updated_at":"' || page.updated_at || '","modified_by":' || COALESCE(to_json(page.modified_by)::text, 'null') || ',"flow_id":"' || page.flow_id || '","flow_version":' || page.flow_version || ',"status":' || COALESCE(to_json(page.status)::text, 'null') || ',"input":' || page.input || ',"organization_id":"' || page.organization_id || '","pricing_config_id":' || COALESCE(to_json(page.pricing_config_id)::text, 'null') || ',"total_credits":' || 'null' || ',"triggered_task_executor_name":' || COALESCE(
              to_json(page.triggered_task_executor_name)::text,
              'null'
            ) || ',"redrive_count":' || page.redrive_count || ',"run_number":' || 'null' || '}',
            ','
            ORDER BY
              page.created_at DESC,
              page.id DESC
          ),
          ''
        ) || ']' AS body
      FROM
        flows f
        LEFT JOIN LATERAL (
          SELECT
            *
          FROM
            (
              SELECT
                pg.*,
                sum(pg.bytes) OVER (
                  ORDER BY
                    pg.created_at DESC,
                    pg.id DESC ROWS UNBOUNDED PRECEDING
                ) - pg.bytes AS bytes_before,
                count(*) OVER () AS fetched
              FROM
                (
                  SELECT
                    fe.id,
                    fe.organization_id,
                    fe.flow_id,
                    fe.flow_version,
                    fe.status,
                    fe.input::text AS input,
                    fe.run_number,
                    fe.redrive_count,
                    fe.triggered_task_executor_name,
                    fe.pricing_config_id,
                    fe.modified_by,
                    fe.traceparent,
                    fe.tracestate,
                    to_char(
                      fe.created_at AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                    ) AS created_at,
                    to_char(
                      fe.updated_at AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                    ) AS updated_at,
                    500 + pg_column_size(fe.input) AS bytes
                  FROM
                    flow_executions fe
                  WHERE
                    fe.flow_id = '00000000-0000-4000-a000-000000000000'
                    AND fe.status <> 'deleted'
                  ORDER BY
                    fe.created_at DESC,
                    fe.id DESC
                  LIMIT
                    '50'::int
                  OFFSET
                    '0'::int
                ) pg
            ) s
          WHERE
            s.bytes_before < '4194304'
        ) page ON f.organization_id = '00000000-0000-4000-a000-000000000001'
        AND NOT f.deleted
      WHERE
        f.id = '00000000-0000-4000-a000-000000000000'
      GROUP BY
        f.id
    ) q
) TO STDOUT (FORMAT binary);

-- FlowExecutionsRepository.list (after a cursor)
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      SELECT
        json_build_object(
          'flow_organization_id',
          f.organization_id,
          'flow_deleted',
          f.deleted,
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
                page.created_at ASC,
                page.id ASC
            )
          ) [1]
        ) AS head,
        '[' || COALESCE(
          string_agg(
            '{"id":"' || page.id || '","created_at":"' || page.created_at || '","updated_at":"' || page.updated_at || '","modified_by":' || COALESCE(to_json(page.modified_by)::text, 'null') || ',"flow_id":"' || page.flow_id || '","flow_version":' || page.flow_version || ',"status":' || COALESCE(to_json(page.status)::text, 'null') || ',"input":' || page.input || ',"organization_id":"' || page.organization_id || '","pricing_config_id":' || COALESCE(to_json(page.pricing_config_id)::text, 'null') || ',"total_credits":' || 'null' || ',"triggered_task_executor_name":' || COALESCE(
              to_json(page.triggered_task_executor_name)::text,
              'null'
            ) || ',"redrive_count":' || page.redrive_count || ',"run_number":' || 'null' || '}',
            ','
            ORDER BY
              page.created_at DESC,
              page.id DESC
          ),
          ''
        ) || ']' AS body
      FROM
        flows f
        LEFT JOIN flow_executions c ON c.id = '00000000-0000-4000-a000-000000000000'
        AND c.flow_id = f.id
        LEFT JOIN LATERAL (
          SELECT
            *
          FROM
            (
              SELECT
                pg.*,
                sum(pg.bytes) OVER (
                  ORDER BY
                    pg.created_at DESC,
                    pg.id DESC ROWS UNBOUNDED PRECEDING
                ) - pg.bytes AS bytes_before,
                count(*) OVER () AS fetched
              FROM
                (
                  SELECT
                    fe.id,
                    fe.organization_id,
                    fe.flow_id,
                    fe.flow_version,
                    fe.status,
                    fe.input::text AS input,
                    fe.run_number,
                    fe.redrive_count,
                    fe.triggered_task_executor_name,
                    fe.pricing_config_id,
                    fe.modified_by,
                    fe.traceparent,
                    fe.tracestate,
                    to_char(
                      fe.created_at AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                    ) AS created_at,
                    to_char(
                      fe.updated_at AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                    ) AS updated_at,
                    500 + pg_column_size(fe.input) AS bytes
                  FROM
                    flow_executions fe
                  WHERE
                    fe.flow_id = '00000000-0000-4000-a000-000000000000'
                    AND fe.status <> 'deleted'
                    AND (fe.created_at, fe.id) < (c.created_at, c.id)
                  ORDER BY
                    fe.created_at DESC,
                    fe.id DESC
                  LIMIT
                    '50'::int
                  OFFSET
                    '0'::int
                ) pg
            ) s
          WHERE
            s.bytes_before < '4194304'
        ) page ON f.organization_id = '00000000-0000-4000-a000-000000000001'
        AND NOT f.deleted
      WHERE
        f.id = '00000000-0000-4000-a000-000000000000'
      GROUP BY
        f.id
    ) q
) TO STDOUT (FORMAT binary);

-- FlowExecutionsRepository.list (filters, by updated_at with credits)
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      SELECT
        json_build_object(
          'flow_organization_id',
          f.organization_id,
          'flow_deleted',
          f.deleted,
          'cursor_found',
          NULL::boolean,
          'fetched',
          max(page.fetched),
          'count',
          count(page.id)::int,
          'last_id',
          (
            array_agg(
              page.id
              ORDER BY
                page.updated_at DESC,
                page.id DESC
            )
          ) [1]
        ) AS head,
        '[' || COALESCE(
          string_agg(
            '{"id":"' || page.id || '","created_at":"' || page.created_at || '","updated_at":"' || page.updated_at || '","modified_by":' || COALESCE(to_json(page.modified_by)::text, 'null') || ',"flow_id":"' || page.flow_id || '","flow_version":' || page.flow_version || ',"status":' || COALESCE(to_json(page.status)::text, 'null') || ',"input":' || page.input || ',"organization_id":"' || page.organization_id || '","pricing_config_id":' || COALESCE(to_json(page.pricing_config_id)::text, 'null') || ',"total_credits":' || COALESCE(to_json(page.total_credits)::text, 'null') || ',"triggered_task_executor_name":' || COALESCE(
              to_json(page.triggered_task_executor_name)::text,
              'null'
            ) || ',"redrive_count":' || page.redrive_count || ',"run_number":' || 'null' || '}',
            ','
            ORDER BY
              page.updated_at ASC,
              page.id ASC
          ),
          ''
        ) || ']' AS body
      FROM
        flows f
        LEFT JOIN LATERAL (
          SELECT
            *
          FROM
            (
              SELECT
                pg.*,
                sum(pg.bytes) OVER (
                  ORDER BY
                    pg.updated_at ASC,
                    pg.id ASC ROWS UNBOUNDED PRECEDING
                ) - pg.bytes AS bytes_before,
                count(*) OVER () AS fetched
              FROM
                (
                  SELECT
                    fe.id,
                    fe.organization_id,
                    fe.flow_id,
                    fe.flow_version,
                    fe.status,
                    fe.input::text AS input,
                    fe.run_number,
                    fe.redrive_count,
                    fe.triggered_task_executor_name,
                    fe.pricing_config_id,
                    fe.modified_by,
                    fe.traceparent,
                    fe.tracestate,
                    to_char(
                      fe.created_at AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                    ) AS created_at,
                    to_char(
                      fe.updated_at AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                    ) AS updated_at,
                    (
                      SELECT
                        sum(te.credits)
                      FROM
                        task_executions te
                      WHERE
                        te.flow_execution_id = fe.id
                    ) AS total_credits,
                    500 + pg_column_size(fe.input) AS bytes
                  FROM
                    flow_executions fe
                  WHERE
                    fe.flow_id = '00000000-0000-4000-a000-000000000000'
                    AND fe.status <> 'deleted'
                    AND fe.status = ANY ('{"completed","failed"}')
                    AND fe.status <> ALL ('{"stale"}')
                    AND fe.created_at >= '2024-01-01T00:00:00.000000Z'
                    AND fe.created_at <= '2024-01-01T00:00:00.000000Z'
                    AND fe.updated_at >= '2024-01-01T00:00:00.000000Z'
                    AND fe.updated_at <= '2024-01-01T00:00:00.000000Z'
                    AND NOT (
                      EXISTS (
                        SELECT
                          1
                        FROM
                          task_execution_tags t
                        WHERE
                          t.organization_id = '00000000-0000-4000-a000-000000000001'
                          AND t.tag_type = 'customer'
                          AND t.tag = 'acme'
                          AND t.flow_execution_id = fe.id
                          AND t.status = 'active'
                        OFFSET
                          0
                      )
                    )
                  ORDER BY
                    fe.updated_at ASC,
                    fe.id ASC
                  LIMIT
                    '50'::int
                  OFFSET
                    '0'::int
                ) pg
            ) s
          WHERE
            s.bytes_before < '4194304'
        ) page ON f.organization_id = '00000000-0000-4000-a000-000000000001'
        AND NOT f.deleted
      WHERE
        f.id = '00000000-0000-4000-a000-000000000000'
      GROUP BY
        f.id
    ) q
) TO STDOUT (FORMAT binary);

-- FlowExecutionsRepository.list (with tags)
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      WITH
        budget AS (
          SELECT
            GREATEST(
              100,
              sqrt(('50'::int + '0'::int)::float8 * executions_count)
            )::int AS n
          FROM
            flows
          WHERE
            id = '00000000-0000-4000-a000-000000000000'
        ),
        tagged AS MATERIALIZED (
          SELECT
            id
          FROM
            (
              (
                SELECT
                  t.flow_execution_id AS id
                FROM
                  task_execution_tags t
                WHERE
                  t.organization_id = '00000000-0000-4000-a000-000000000001'
                  AND t.tag_type = 'customer'
                  AND t.tag = 'acme'
                  AND t.status = 'active'
              )
              UNION ALL
              (
                SELECT
                  t.flow_execution_id AS id
                FROM
                  task_execution_tags t
                WHERE
                  t.organization_id = '00000000-0000-4000-a000-000000000001'
                  AND t.tag_type = 'region'
                  AND t.tag = 'eu'
                  AND t.status = 'active'
              )
            ) x
          LIMIT
            COALESCE(
              (
                SELECT
                  n
                FROM
                  budget
              ),
              0
            ) + 1
        ),
        few AS MATERIALIZED (
          SELECT
            count(*) <= COALESCE(
              (
                SELECT
                  n
                FROM
                  budget
              ),
              0
            ) AS yes
          FROM
            tagged
        )
      SELECT
        json_build_object(
          'flow_organization_id',
          f.organization_id,
          'flow_deleted',
          f.deleted,
          'cursor_found',
          NULL::boolean,
          'fetched',
          max(page.fetched),
          'count',
          count(page.id)::int,
          'last_id',
          (
            array_agg(
              page.id
              ORDER BY
                page.created_at ASC,
                page.id ASC
            )
          ) [1]
        ) AS head,
        '[' || COALESCE(
          string_agg(
            '{"id":"' || page.id || '","created_at":"' || page.created_at || '","updated_at":"' || page.updated_at || '","modified_by":' || COALESCE(to_json(page.modified_by)::text, 'null') || ',"flow_id":"' || page.flow_id || '","flow_version":' || page.flow_version || ',"status":' || COALESCE(to_json(page.status)::text, 'null') || ',"input":' || page.input || ',"organization_id":"' || page.organization_id || '","pricing_config_id":' || COALESCE(to_json(page.pricing_config_id)::text, 'null') || ',"total_credits":' || 'null' || ',"triggered_task_executor_name":' || COALESCE(
              to_json(page.triggered_task_executor_name)::text,
              'null'
            ) || ',"redrive_count":' || page.redrive_count || ',"run_number":' || 'null' || '}',
            ','
            ORDER BY
              page.created_at DESC,
              page.id DESC
          ),
          ''
        ) || ']' AS body
      FROM
        flows f
        LEFT JOIN LATERAL (
          SELECT
            *
          FROM
            (
              SELECT
                pg.*,
                sum(pg.bytes) OVER (
                  ORDER BY
                    pg.created_at DESC,
                    pg.id DESC ROWS UNBOUNDED PRECEDING
                ) - pg.bytes AS bytes_before,
                count(*) OVER () AS fetched
              FROM
                (
                  SELECT
                    *
                  FROM
                    (
                      (
                        SELECT
                          fe.id,
                          fe.organization_id,
                          fe.flow_id,
                          fe.flow_version,
                          fe.status,
                          fe.input::text AS input,
                          fe.run_number,
                          fe.redrive_count,
                          fe.triggered_task_executor_name,
                          fe.pricing_config_id,
                          fe.modified_by,
                          fe.traceparent,
                          fe.tracestate,
                          to_char(
                            fe.created_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                          ) AS created_at,
                          to_char(
                            fe.updated_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                          ) AS updated_at,
                          500 + pg_column_size(fe.input) AS bytes
                        FROM
                          flow_executions fe
                        WHERE
                          (
                            SELECT
                              yes
                            FROM
                              few
                          )
                          AND fe.id IN (
                            SELECT
                              id
                            FROM
                              tagged
                          )
                          AND fe.flow_id = '00000000-0000-4000-a000-000000000000'
                          AND fe.status <> 'deleted'
                        ORDER BY
                          fe.created_at DESC,
                          fe.id DESC
                        LIMIT
                          '50'::int + '0'::int
                      )
                      UNION ALL
                      (
                        SELECT
                          fe.id,
                          fe.organization_id,
                          fe.flow_id,
                          fe.flow_version,
                          fe.status,
                          fe.input::text AS input,
                          fe.run_number,
                          fe.redrive_count,
                          fe.triggered_task_executor_name,
                          fe.pricing_config_id,
                          fe.modified_by,
                          fe.traceparent,
                          fe.tracestate,
                          to_char(
                            fe.created_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                          ) AS created_at,
                          to_char(
                            fe.updated_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                          ) AS updated_at,
                          500 + pg_column_size(fe.input) AS bytes
                        FROM
                          flow_executions fe
                        WHERE
                          NOT (
                            SELECT
                              yes
                            FROM
                              few
                          )
                          AND (
                            EXISTS (
                              SELECT
                                1
                              FROM
                                task_execution_tags t
                              WHERE
                                t.organization_id = '00000000-0000-4000-a000-000000000001'
                                AND t.tag_type = 'customer'
                                AND t.tag = 'acme'
                                AND t.flow_execution_id = fe.id
                                AND t.status = 'active'
                              OFFSET
                                0
                            )
                            OR EXISTS (
                              SELECT
                                1
                              FROM
                                task_execution_tags t
                              WHERE
                                t.organization_id = '00000000-0000-4000-a000-000000000001'
                                AND t.tag_type = 'region'
                                AND t.tag = 'eu'
                                AND t.flow_execution_id = fe.id
                                AND t.status = 'active'
                              OFFSET
                                0
                            )
                          )
                          AND fe.flow_id = '00000000-0000-4000-a000-000000000000'
                          AND fe.status <> 'deleted'
                        ORDER BY
                          fe.created_at DESC,
                          fe.id DESC
                        LIMIT
                          '50'::int + '0'::int
                      )
                    ) fe
                  ORDER BY
                    fe.created_at DESC,
                    fe.id DESC
                  LIMIT
                    '50'::int
                  OFFSET
                    '0'::int
                ) pg
            ) s
          WHERE
            s.bytes_before < '4194304'
        ) page ON f.organization_id = '00000000-0000-4000-a000-000000000001'
        AND NOT f.deleted
      WHERE
        f.id = '00000000-0000-4000-a000-000000000000'
      GROUP BY
        f.id
    ) q
) TO STDOUT (FORMAT binary);

-- FlowExecutionsRepository.list (versions and run numbers)
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      SELECT
        json_build_object(
          'flow_organization_id',
          f.organization_id,
          'flow_deleted',
          f.deleted,
          'cursor_found',
          NULL::boolean,
          'fetched',
          max(page.fetched),
          'count',
          count(page.id)::int,
          'last_id',
          (
            array_agg(
              page.id
              ORDER BY
                page.created_at ASC,
                page.id ASC
            )
          ) [1]
        ) AS head,
        '[' || COALESCE(
          string_agg(
            '{"id":"' || page.id || '","created_at":"' || page.created_at || '","updated_at":"' || page.updated_at || '","modified_by":' || COALESCE(to_json(page.modified_by)::text, 'null') || ',"flow_id":"' || page.flow_id || '","flow_version":' || page.flow_version || ',"status":' || COALESCE(to_json(page.status)::text, 'null') || ',"input":' || page.input || ',"organization_id":"' || page.organization_id || '","pricing_config_id":' || COALESCE(to_json(page.pricing_config_id)::text, 'null') || ',"total_credits":' || 'null' || ',"triggered_task_executor_name":' || COALESCE(
              to_json(page.triggered_task_executor_name)::text,
              'null'
            ) || ',"redrive_count":' || page.redrive_count || ',"run_number":' || 'null' || '}',
            ','
            ORDER BY
              page.created_at DESC,
              page.id DESC
          ),
          ''
        ) || ']' AS body
      FROM
        flows f
        LEFT JOIN LATERAL (
          SELECT
            *
          FROM
            (
              SELECT
                pg.*,
                sum(pg.bytes) OVER (
                  ORDER BY
                    pg.created_at DESC,
                    pg.id DESC ROWS UNBOUNDED PRECEDING
                ) - pg.bytes AS bytes_before,
                count(*) OVER () AS fetched
              FROM
                (
                  SELECT
                    fe.id,
                    fe.organization_id,
                    fe.flow_id,
                    fe.flow_version,
                    fe.status,
                    fe.input::text AS input,
                    fe.run_number,
                    fe.redrive_count,
                    fe.triggered_task_executor_name,
                    fe.pricing_config_id,
                    fe.modified_by,
                    fe.traceparent,
                    fe.tracestate,
                    to_char(
                      fe.created_at AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                    ) AS created_at,
                    to_char(
                      fe.updated_at AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                    ) AS updated_at,
                    500 + pg_column_size(fe.input) AS bytes
                  FROM
                    flow_executions fe
                  WHERE
                    fe.flow_id = '00000000-0000-4000-a000-000000000000'
                    AND fe.status <> 'deleted'
                    AND fe.flow_version = ANY ('{"3","7"}'::int[])
                    AND fe.run_number >= '100'::int
                    AND fe.run_number <= '200'::int
                  ORDER BY
                    fe.created_at DESC,
                    fe.id DESC
                  LIMIT
                    '50'::int
                  OFFSET
                    '0'::int
                ) pg
            ) s
          WHERE
            s.bytes_before < '4194304'
        ) page ON f.organization_id = '00000000-0000-4000-a000-000000000001'
        AND NOT f.deleted
      WHERE
        f.id = '00000000-0000-4000-a000-000000000000'
      GROUP BY
        f.id
    ) q
) TO STDOUT (FORMAT binary);

-- FlowExecutionsRepository.list (with tags, after a cursor, page 3)
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      WITH
        budget AS (
          SELECT
            GREATEST(
              100,
              sqrt(
                ('50'::int + '100'::int)::float8 * executions_count
              )
            )::int AS n
          FROM
            flows
          WHERE
            id = '00000000-0000-4000-a000-000000000000'
        ),
        tagged AS MATERIALIZED (
          SELECT
            id
          FROM
            (
              (
                SELECT
                  t.flow_execution_id AS id
                FROM
                  task_execution_tags t
                WHERE
                  t.organization_id = '00000000-0000-4000-a000-000000000001'
                  AND t.tag_type = 'customer'
                  AND t.tag = 'acme'
                  AND t.status = 'active'
              )
              UNION ALL
              (
                SELECT
                  t.flow_execution_id AS id
                FROM
                  task_execution_tags t
                WHERE
                  t.organization_id = '00000000-0000-4000-a000-000000000001'
                  AND t.tag_type = 'region'
                  AND t.tag = 'eu'
                  AND t.status = 'active'
              )
            ) x
          LIMIT
            COALESCE(
              (
                SELECT
                  n
                FROM
                  budget
              ),
              0
            ) + 1
        ),
        few AS MATERIALIZED (
          SELECT
            count(*) <= COALESCE(
              (
                SELECT
                  n
                FROM
                  budget
              ),
              0
            ) AS yes
          FROM
            tagged
        )
      SELECT
        json_build_object(
          'flow_organization_id',
          f.organization_id,
          'flow_deleted',
          f.deleted,
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
                page.created_at ASC,
                page.id ASC
            )
          ) [1]
        ) AS head,
        '[' || COALESCE(
          string_agg(
            '{"id":"' || page.id || '","created_at":"' || page.created_at || '","updated_at":"' || page.updated_at || '","modified_by":' || COALESCE(to_json(page.modified_by)::text, 'null') || ',"flow_id":"' || page.flow_id || '","flow_version":' || page.flow_version || ',"status":' || COALESCE(to_json(page.status)::text, 'null') || ',"input":' || page.input || ',"organization_id":"' || page.organization_id || '","pricing_config_id":' || COALESCE(to_json(page.pricing_config_id)::text, 'null') || ',"total_credits":' || 'null' || ',"triggered_task_executor_name":' || COALESCE(
              to_json(page.triggered_task_executor_name)::text,
              'null'
            ) || ',"redrive_count":' || page.redrive_count || ',"run_number":' || 'null' || '}',
            ','
            ORDER BY
              page.created_at DESC,
              page.id DESC
          ),
          ''
        ) || ']' AS body
      FROM
        flows f
        LEFT JOIN flow_executions c ON c.id = '00000000-0000-4000-a000-000000000000'
        AND c.flow_id = f.id
        LEFT JOIN LATERAL (
          SELECT
            *
          FROM
            (
              SELECT
                pg.*,
                sum(pg.bytes) OVER (
                  ORDER BY
                    pg.created_at DESC,
                    pg.id DESC ROWS UNBOUNDED PRECEDING
                ) - pg.bytes AS bytes_before,
                count(*) OVER () AS fetched
              FROM
                (
                  SELECT
                    *
                  FROM
                    (
                      (
                        SELECT
                          fe.id,
                          fe.organization_id,
                          fe.flow_id,
                          fe.flow_version,
                          fe.status,
                          fe.input::text AS input,
                          fe.run_number,
                          fe.redrive_count,
                          fe.triggered_task_executor_name,
                          fe.pricing_config_id,
                          fe.modified_by,
                          fe.traceparent,
                          fe.tracestate,
                          to_char(
                            fe.created_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                          ) AS created_at,
                          to_char(
                            fe.updated_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                          ) AS updated_at,
                          500 + pg_column_size(fe.input) AS bytes
                        FROM
                          flow_executions fe
                        WHERE
                          (
                            SELECT
                              yes
                            FROM
                              few
                          )
                          AND fe.id IN (
                            SELECT
                              id
                            FROM
                              tagged
                          )
                          AND fe.flow_id = '00000000-0000-4000-a000-000000000000'
                          AND fe.status <> 'deleted'
                          AND (fe.created_at, fe.id) < (c.created_at, c.id)
                        ORDER BY
                          fe.created_at DESC,
                          fe.id DESC
                        LIMIT
                          '50'::int + '100'::int
                      )
                      UNION ALL
                      (
                        SELECT
                          fe.id,
                          fe.organization_id,
                          fe.flow_id,
                          fe.flow_version,
                          fe.status,
                          fe.input::text AS input,
                          fe.run_number,
                          fe.redrive_count,
                          fe.triggered_task_executor_name,
                          fe.pricing_config_id,
                          fe.modified_by,
                          fe.traceparent,
                          fe.tracestate,
                          to_char(
                            fe.created_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                          ) AS created_at,
                          to_char(
                            fe.updated_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
                          ) AS updated_at,
                          500 + pg_column_size(fe.input) AS bytes
                        FROM
                          flow_executions fe
                        WHERE
                          NOT (
                            SELECT
                              yes
                            FROM
                              few
                          )
                          AND (
                            EXISTS (
                              SELECT
                                1
                              FROM
                                task_execution_tags t
                              WHERE
                                t.organization_id = '00000000-0000-4000-a000-000000000001'
                                AND t.tag_type = 'customer'
                                AND t.tag = 'acme'
                                AND t.flow_execution_id = fe.id
                                AND t.status = 'active'
                              OFFSET
                                0
                            )
                            OR EXISTS (
                              SELECT
                                1
                              FROM
                                task_execution_tags t
                              WHERE
                                t.organization_id = '00000000-0000-4000-a000-000000000001'
                                AND t.tag_type = 'region'
                                AND t.tag = 'eu'
                                AND t.flow_execution_id = fe.id
                                AND t.status = 'active'
                              OFFSET
                                0
                            )
                          )
                          AND fe.flow_id = '00000000-0000-4000-a000-000000000000'
                          AND fe.status <> 'deleted'
                          AND (fe.created_at, fe.id) < (c.created_at, c.id)
                        ORDER BY
                          fe.created_at DESC,
                          fe.id DESC
                        LIMIT
                          '50'::int + '100'::int
                      )
                    ) fe
                  ORDER BY
                    fe.created_at DESC,
                    fe.id DESC
                  LIMIT
                    '50'::int
                  OFFSET
                    '100'::int
                ) pg
            ) s
          WHERE
            s.bytes_before < '4194304'
        ) page ON f.organization_id = '00000000-0000-4000-a000-000000000001'
        AND NOT f.deleted
      WHERE
        f.id = '00000000-0000-4000-a000-000000000000'
      GROUP BY
        f.id
    ) q
) TO STDOUT (FORMAT binary);

-- FlowExecutionsRepository.stats (by status)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001"]
SELECT
  f.organization_id AS flow_organization_id,
  f.deleted AS flow_deleted,
  st.*
FROM
  flows f
  LEFT JOIN LATERAL (
    SELECT
      GROUPING(g.key) = 1 AS total,
      g.key AS sort_key,
      g.key AS key,
      count(*)::int AS count,
      count(g.seconds)::int AS finished,
      percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (
        ORDER BY
          g.seconds
      ) AS percentiles,
      max(g.seconds) AS max
    FROM
      (
        SELECT
          fe.status AS key,
          CASE
            WHEN fe.status IN ('completed', 'failed', 'cancelled') THEN extract(
              epoch
              FROM
                fe.terminal_at - fe.created_at
            )::float8
          END AS seconds
        FROM
          flow_executions fe
        WHERE
          fe.flow_id = $1
          AND fe.status <> 'deleted'
      ) g
    GROUP BY
      GROUPING SETS ((g.key), ())
  ) st ON f.organization_id = $2
  AND NOT f.deleted
WHERE
  f.id = $1
ORDER BY
  st.total DESC,
  st.sort_key;

-- FlowExecutionsRepository.stats (by day, filtered)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001",["completed","failed"],[2],"2024-01-01T00:00:00.000000Z"]
SELECT
  f.organization_id AS flow_organization_id,
  f.deleted AS flow_deleted,
  st.*
FROM
  flows f
  LEFT JOIN LATERAL (
    SELECT
      GROUPING(g.key) = 1 AS total,
      g.key AS sort_key,
      to_char(g.key, 'YYYY-MM-DD') AS key,
      count(*)::int AS count,
      count(g.seconds)::int AS finished,
      percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (
        ORDER BY
          g.seconds
      ) AS percentiles,
      max(g.seconds) AS max
    FROM
      (
        SELECT
          date_trunc('day', fe.created_at AT TIME ZONE 'UTC') AS key,
          CASE
            WHEN fe.status IN ('completed', 'failed', 'cancelled') THEN extract(
              epoch
              FROM
                fe.terminal_at - fe.created_at
            )::float8
          END AS seconds
        FROM
          flow_executions fe
        WHERE
          fe.flow_id = $1
          AND fe.status <> 'deleted'
          AND fe.status = ANY ($3)
          AND fe.flow_version = ANY ($4::int[])
          AND fe.created_at >= $5
      ) g
    GROUP BY
      GROUPING SETS ((g.key), ())
  ) st ON f.organization_id = $2
  AND NOT f.deleted
WHERE
  f.id = $1
ORDER BY
  st.total DESC,
  st.sort_key;

-- FlowExecutionsRepository.stats (by version, tagged)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001","customer","acme","region","eu"]
SELECT
  f.organization_id AS flow_organization_id,
  f.deleted AS flow_deleted,
  st.*
FROM
  flows f
  LEFT JOIN LATERAL (
    SELECT
      GROUPING(g.key) = 1 AS total,
      g.key AS sort_key,
      g.key AS key,
      count(*)::int AS count,
      count(g.seconds)::int AS finished,
      percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (
        ORDER BY
          g.seconds
      ) AS percentiles,
      max(g.seconds) AS max
    FROM
      (
        SELECT
          fe.flow_version AS key,
          CASE
            WHEN fe.status IN ('completed', 'failed', 'cancelled') THEN extract(
              epoch
              FROM
                fe.terminal_at - fe.created_at
            )::float8
          END AS seconds
        FROM
          flow_executions fe
        WHERE
          fe.flow_id = $1
          AND fe.status <> 'deleted'
          AND EXISTS (
            SELECT
              1
            FROM
              task_execution_tags t
            WHERE
              t.organization_id = $2
              AND t.flow_execution_id = fe.id
              AND t.status = 'active'
              AND (
                (
                  t.tag_type = $3
                  AND t.tag = $4
                )
                OR (
                  t.tag_type = $5
                  AND t.tag = $6
                )
              )
          )
      ) g
    GROUP BY
      GROUPING SETS ((g.key), ())
  ) st ON f.organization_id = $2
  AND NOT f.deleted
WHERE
  f.id = $1
ORDER BY
  st.total DESC,
  st.sort_key;

-- FlowExecutionsRepository.preview (flow check)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001"]
SELECT
  f.organization_id AS flow_organization_id,
  f.deleted AS flow_deleted,
  pv.matched,
  pv.sample
FROM
  flows f
  LEFT JOIN LATERAL (
    SELECT
      NULL::int AS matched,
      '[]'::json AS sample
  ) pv ON f.organization_id = $2
  AND NOT f.deleted
WHERE
  f.id = $1;

-- FlowExecutionsRepository.preview (dry run)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001",["queued"],"customer","acme","region","eu",100000,10]
SELECT
  f.organization_id AS flow_organization_id,
  f.deleted AS flow_deleted,
  pv.matched,
  pv.sample
FROM
  flows f
  LEFT JOIN LATERAL (
    SELECT
      (
        SELECT
          count(*)::int
        FROM
          (
            SELECT
              1
            FROM
              flow_executions fe
            WHERE
              fe.flow_id = $1
              AND fe.status <> 'deleted'
              AND fe.status = ANY ($3)
              AND EXISTS (
                SELECT
                  1
                FROM
                  task_execution_tags t
                WHERE
                  t.organization_id = $2
                  AND t.flow_execution_id = fe.id
                  AND t.status = 'active'
                  AND (
                    (
                      t.tag_type = $4
                      AND t.tag = $5
                    )
                    OR (
                      t.tag_type = $6
                      AND t.tag = $7
                    )
                  )
              )
            LIMIT
              $8::int + 1
          ) c
      ) AS matched,
      (
        SELECT
          coalesce(json_agg(x), '[]')
        FROM
          (
            SELECT
              fe.id,
              fe.organization_id,
              fe.flow_id,
              fe.flow_version,
              fe.status,
              fe.input::text AS input,
              fe.run_number,
              fe.redrive_count,
              fe.triggered_task_executor_name,
              fe.pricing_config_id,
              fe.modified_by,
              fe.traceparent,
              fe.tracestate,
              to_char(
                fe.created_at AT TIME ZONE 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
              ) AS created_at,
              to_char(
                fe.updated_at AT TIME ZONE 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
              ) AS updated_at
            FROM
              flow_executions fe
            WHERE
              fe.flow_id = $1
              AND fe.status <> 'deleted'
              AND fe.status = ANY ($3)
              AND EXISTS (
                SELECT
                  1
                FROM
                  task_execution_tags t
                WHERE
                  t.organization_id = $2
                  AND t.flow_execution_id = fe.id
                  AND t.status = 'active'
                  AND (
                    (
                      t.tag_type = $4
                      AND t.tag = $5
                    )
                    OR (
                      t.tag_type = $6
                      AND t.tag = $7
                    )
                  )
              )
            ORDER BY
              fe.created_at,
              fe.id
            LIMIT
              $9::int
          ) x
      ) AS sample
  ) pv ON f.organization_id = $2
  AND NOT f.deleted
WHERE
  f.id = $1;

-- FlowExecutionsRepository.start
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001",1,"{}",null,null,"sample",10,"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","vendor=value"]
WITH
  head AS (
    SELECT
      f.organization_id AS org
    FROM
      flows f
    WHERE
      f.id = $2
      AND f.organization_id = $1
      AND f.latest_version = $3
      AND NOT f.deleted
  ),
  fe AS (
    SELECT
      s.*
    FROM
      head
      CROSS JOIN LATERAL start_flow_execution (head.org, $2, $3, $4, $5, $6, $7, $8, $9, $10) s
  )
SELECT
  EXISTS (
    SELECT
      1
    FROM
      head
  ) AS current,
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at
FROM
  (
    SELECT
      1
  ) one
  LEFT JOIN fe ON true;

-- FlowExecutionsRepository.start (keeping an Idempotency-Key)
-- params: ["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001",1,"{}",null,null,"sample",10,null,null,"POST /api/flow-executions","sample","00000000-0000-4000-a000-000000000001",201]
WITH
  owned AS (
    SELECT
      $1::uuid AS org
    FROM
      idempotency_keys
    WHERE
      organization_id = $1
      AND operation = $11
      AND key = $12
      AND owner = $13
    FOR UPDATE
  ),
  head AS (
    SELECT
      owned.org
    FROM
      owned
      JOIN flows f ON f.id = $2
      AND f.organization_id = owned.org
      AND f.latest_version = $3
      AND NOT f.deleted
  ),
  fe AS (
    SELECT
      s.*
    FROM
      head
      CROSS JOIN LATERAL start_flow_execution (head.org, $2, $3, $4, $5, $6, $7, $8, $9, $10) s
  ),
  kept AS (
    UPDATE idempotency_keys k
    SET
      response_status = $14,
      response_body = flow_execution_json (fe::flow_executions) || '{"run_number": null}'::jsonb
    FROM
      fe
    WHERE
      k.organization_id = $1
      AND k.operation = $11
      AND k.key = $12
  )
SELECT
  EXISTS (
    SELECT
      1
    FROM
      owned
  ) AS key_owned,
  EXISTS (
    SELECT
      1
    FROM
      head
  ) AS current,
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at
FROM
  (
    SELECT
      1
  ) one
  LEFT JOIN fe ON true;

-- FlowExecutionsRepository.startMany
-- params: ["00000000-0000-4000-a000-000000000000","[{\"input\":{},\"flow_id\":\"00000000-0000-4000-a000-000000000001\",\"flow_version\":1,\"input_task_name\":null,\"triggered_task_executor_name\":null,\"modified_by\":\"sample\",\"traceparent\":null,\"tracestate\":null},{\"input\":{\"a\": 1},\"flow_id\":\"00000000-0000-4000-a000-000000000001\",\"flow_version\":1,\"input_task_name\":\"receive\",\"triggered_task_executor_name\":null,\"modified_by\":\"sample\",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\",\"tracestate\":\"vendor=value\"}]",10]
WITH
  item AS (
    SELECT
      i.n,
      e.flow_id,
      e.flow_version,
      e.input,
      e.input_task_name,
      e.triggered_task_executor_name,
      e.modified_by,
      e.traceparent,
      e.tracestate
    FROM
      jsonb_array_elements($2::jsonb) WITH ORDINALITY AS i (value, n),
      jsonb_to_record(i.value) AS e (
        flow_id uuid,
        flow_version integer,
        input jsonb,
        input_task_name text,
        triggered_task_executor_name text,
        modified_by text,
        traceparent text,
        tracestate text
      )
  ),
  head AS (
    SELECT
      item.*
    FROM
      item
      JOIN flows f ON f.id = item.flow_id
      AND f.organization_id = $1
      AND f.latest_version = item.flow_version
      AND NOT f.deleted
  ),
  fe AS (
    SELECT
      head.n,
      s.*
    FROM
      (
        SELECT
          *
        FROM
          head
        ORDER BY
          head.n
      ) head
      CROSS JOIN LATERAL start_flow_execution (
        $1,
        head.flow_id,
        head.flow_version,
        head.input,
        head.input_task_name,
        head.triggered_task_executor_name,
        head.modified_by,
        $3,
        head.traceparent,
        head.tracestate
      ) s
  )
SELECT
  head.n IS NOT NULL AS current,
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at
FROM
  item
  LEFT JOIN head ON head.n = item.n
  LEFT JOIN fe ON fe.n = item.n
ORDER BY
  item.n;

-- FlowExecutionsRepository.notifyCreated
-- params: [["00000000-0000-4000-a000-000000000000 00000000-0000-4000-a000-000000000001"]]
SELECT
  count(pg_notify ('flow_execution_changes', p))::int AS sent
FROM
  set_config('synchronous_commit', 'off', true),
  unnest($1::text[]) AS p;

-- FlowExecutionsRepository.changeStatusMany
-- params: ["00000000-0000-4000-a000-000000000000","[{\"id\":\"00000000-0000-4000-a000-000000000001\",\"rule\":{\"moves\":[{\"from\":[\"running\"],\"to\":\"completed\"}],\"otherwise\":\"refuse\"},\"asked\":\"completed\",\"permitted_from\":[\"running\"],\"active\":[\"running\",\"awaiting_input\",\"cancel_requested\"],\"modified_by\":\"sample\",\"reason\":\"patch\"},{\"id\":\"00000000-0000-4000-a000-000000000001\",\"rule\":{\"moves\":[{\"from\":[\"queued\",\"running\"],\"to\":\"cancel_requested\"}],\"otherwise\":\"refuse\"},\"asked\":null,\"permitted_from\":null,\"active\":[\"running\",\"awaiting_input\",\"cancel_requested\"],\"modified_by\":\"sample\",\"reason\":\"cancel\"}]",10]
WITH
  item AS (
    SELECT
      i.n,
      e.id,
      e.rule,
      e.asked,
      e.permitted_from,
      e.active,
      e.modified_by,
      e.reason
    FROM
      jsonb_array_elements($2::jsonb) WITH ORDINALITY AS i (value, n),
      jsonb_to_record(i.value) AS e (
        id uuid,
        rule jsonb,
        asked text,
        permitted_from text[],
        active text[],
        modified_by text,
        reason text
      )
  )
SELECT
  item.n,
  c.outcome,
  c.previous_status,
  c.refused_to,
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at
FROM
  (
    SELECT
      *
    FROM
      item
    ORDER BY
      item.n
  ) item
  CROSS JOIN LATERAL change_flow_execution_status (
    $1,
    item.id,
    item.rule,
    item.asked,
    item.permitted_from,
    item.active,
    item.modified_by,
    item.reason,
    $3
  ) WITH ORDINALITY AS c
  CROSS JOIN LATERAL (
    SELECT
      (c.fe).*
  ) fe
ORDER BY
  item.n,
  c.ordinality;

-- FlowExecutionsRepository.changeStatusWithin
-- params: ["00000000-0000-4000-a000-000000000000","[{\"id\":\"00000000-0000-4000-a000-000000000001\",\"rule\":{\"moves\":[{\"from\":[\"queued\",\"running\"],\"to\":\"cancel_requested\"}],\"otherwise\":\"refuse\"},\"asked\":null,\"permitted_from\":null,\"active\":[\"running\",\"awaiting_input\",\"cancel_requested\"],\"modified_by\":\"sample\",\"reason\":\"cancel\"}]",10]
WITH
  item AS (
    SELECT
      i.n,
      e.id,
      e.rule,
      e.asked,
      e.permitted_from,
      e.active,
      e.modified_by,
      e.reason
    FROM
      jsonb_array_elements($2::jsonb) WITH ORDINALITY AS i (value, n),
      jsonb_to_record(i.value) AS e (
        id uuid,
        rule jsonb,
        asked text,
        permitted_from text[],
        active text[],
        modified_by text,
        reason text
      )
  )
SELECT
  item.n,
  c.outcome,
  c.previous_status,
  c.refused_to,
  fe.id,
  fe.organization_id,
  fe.status
FROM
  (
    SELECT
      *
    FROM
      item
    ORDER BY
      item.n
  ) item
  CROSS JOIN LATERAL change_flow_execution_status (
    $1,
    item.id,
    item.rule,
    item.asked,
    item.permitted_from,
    item.active,
    item.modified_by,
    item.reason,
    $3
  ) WITH ORDINALITY AS c
  CROSS JOIN LATERAL (
    SELECT
      (c.fe).*
  ) fe
ORDER BY
  item.n,
  c.ordinality;

-- FlowExecutionsRepository.lockForUpdate
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at
FROM
  flow_executions fe
WHERE
  fe.id = $1
FOR NO KEY UPDATE;

-- FlowExecutionsRepository.lockKeyShare
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  1
FROM
  flow_executions
WHERE
  id = $1
FOR KEY SHARE;

-- FlowExecutionsRepository.lockShared
-- params: [["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001"]]
SELECT
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at
FROM
  flow_executions fe
WHERE
  fe.id = ANY ($1::uuid[])
ORDER BY
  fe.id
FOR KEY SHARE;

-- FlowExecutionsRepository.setStatus
-- params: ["00000000-0000-4000-a000-000000000000","completed","sample",null,["running"]]
UPDATE flow_executions fe
SET
  status = $2,
  modified_by = $3,
  flow_version = COALESCE($4, fe.flow_version),
  updated_at = GREATEST(
    clock_timestamp(),
    fe.updated_at + interval '1 microsecond'
  )
WHERE
  fe.id = $1
  AND fe.status = ANY ($5::text[])
RETURNING
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at;

-- FlowExecutionsRepository.setStatus (re-execution)
-- params: ["00000000-0000-4000-a000-000000000000","running","sample",2,["queued","running","completed","failed","stale","edited","awaiting_input","cancelled"]]
UPDATE flow_executions fe
SET
  status = $2,
  modified_by = $3,
  flow_version = COALESCE($4, fe.flow_version),
  updated_at = GREATEST(
    clock_timestamp(),
    fe.updated_at + interval '1 microsecond'
  )
WHERE
  fe.id = $1
  AND fe.status = ANY ($5::text[])
RETURNING
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at;

-- FlowExecutionsRepository.setStatus (re-execution with a trace context)
-- params: ["00000000-0000-4000-a000-000000000000","running","sample",2,["queued","running","completed","failed","stale","edited","awaiting_input","cancelled"],"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",null]
UPDATE flow_executions fe
SET
  status = $2,
  modified_by = $3,
  flow_version = COALESCE($4, fe.flow_version),
  updated_at = GREATEST(
    clock_timestamp(),
    fe.updated_at + interval '1 microsecond'
  ),
  traceparent = $6,
  tracestate = $7
WHERE
  fe.id = $1
  AND fe.status = ANY ($5::text[])
RETURNING
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at;

-- FlowExecutionsRepository.setStatus (redrive)
-- params: ["00000000-0000-4000-a000-000000000000","running","sample",null,["failed","cancelled"]]
UPDATE flow_executions fe
SET
  status = $2,
  modified_by = $3,
  flow_version = COALESCE($4, fe.flow_version),
  updated_at = GREATEST(
    clock_timestamp(),
    fe.updated_at + interval '1 microsecond'
  ),
  redrive_count = fe.redrive_count + 1
WHERE
  fe.id = $1
  AND fe.status = ANY ($5::text[])
RETURNING
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at;

-- FlowExecutionsRepository.retireTags
-- params: [["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001"]]
UPDATE task_execution_tags
SET
  execution_deleted = true
WHERE
  flow_execution_id = ANY ($1::uuid[])
  AND NOT execution_deleted;

-- FlowExecutionsRepository.queuedCount
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  count(*)::int AS n
FROM
  flow_executions
WHERE
  organization_id = $1
  AND status = 'queued';

-- FlowExecutionsRepository.restartTasks (full)
-- params: ["00000000-0000-4000-a000-000000000000"]
INSERT INTO
  task_executions (
    organization_id,
    flow_execution_id,
    task_name,
    task_execution_idx,
    processing_status
  )
SELECT
  organization_id,
  flow_execution_id,
  task_name,
  max(task_execution_idx) + 1,
  'queued'
FROM
  task_executions
WHERE
  flow_execution_id = $1
GROUP BY
  organization_id,
  flow_execution_id,
  task_name;
-- params: ["00000000-0000-4000-a000-000000000000"]
UPDATE task_executions
SET
  edited_status = 'edited_reexecuted',
  updated_at = clock_timestamp()
WHERE
  flow_execution_id = $1
  AND edited_status = 'edited_not_reexecuted';

-- FlowExecutionsRepository.restartTasks (stale only)
-- params: ["00000000-0000-4000-a000-000000000000"]
UPDATE task_executions
SET
  processing_status = 'queued',
  stale_status = 'consistent',
  output = NULL,
  error = NULL,
  started_at = NULL,
  completed_at = NULL,
  modified_by = 'system',
  updated_at = clock_timestamp()
WHERE
  flow_execution_id = $1
  AND stale_status = 'stale';
-- params: ["00000000-0000-4000-a000-000000000000"]
UPDATE task_executions
SET
  edited_status = 'edited_reexecuted',
  updated_at = clock_timestamp()
WHERE
  flow_execution_id = $1
  AND edited_status = 'edited_not_reexecuted';

-- FlowExecutionsRepository.redriveTasks (unfinished)
-- params: ["00000000-0000-4000-a000-000000000000",null]
UPDATE task_executions te
SET
  processing_status = 'queued',
  output = NULL,
  error = NULL,
  started_at = NULL,
  completed_at = NULL,
  stale_status = 'consistent',
  modified_by = 'system',
  updated_at = GREATEST(
    clock_timestamp(),
    te.updated_at + interval '1 microsecond'
  )
WHERE
  te.id IN (
    SELECT DISTINCT
      ON (l.task_name) l.id
    FROM
      task_executions l
    WHERE
      l.flow_execution_id = $1
      AND l.processing_status <> 'deleted'
    ORDER BY
      l.task_name,
      l.task_execution_idx DESC
  )
  AND CASE
    WHEN $2::text[] IS NULL THEN te.processing_status <> 'completed'
    ELSE te.task_name = ANY ($2::text[])
  END;

-- FlowExecutionsRepository.redriveTasks (from a task)
-- params: ["00000000-0000-4000-a000-000000000000",["extract","review"]]
UPDATE task_executions te
SET
  processing_status = 'queued',
  output = NULL,
  error = NULL,
  started_at = NULL,
  completed_at = NULL,
  stale_status = 'consistent',
  modified_by = 'system',
  updated_at = GREATEST(
    clock_timestamp(),
    te.updated_at + interval '1 microsecond'
  )
WHERE
  te.id IN (
    SELECT DISTINCT
      ON (l.task_name) l.id
    FROM
      task_executions l
    WHERE
      l.flow_execution_id = $1
      AND l.processing_status <> 'deleted'
    ORDER BY
      l.task_name,
      l.task_execution_idx DESC
  )
  AND CASE
    WHEN $2::text[] IS NULL THEN te.processing_status <> 'completed'
    ELSE te.task_name = ANY ($2::text[])
  END;

-- FlowExecutionsRepository.promoteWaiting
-- params: ["00000000-0000-4000-a000-000000000000",10]
UPDATE flow_executions fe
SET
  status = 'running',
  updated_at = GREATEST(
    clock_timestamp(),
    fe.updated_at + interval '1 microsecond'
  )
WHERE
  fe.id IN (
    SELECT
      q.id
    FROM
      flow_executions q
    WHERE
      q.organization_id = $1
      AND q.status IN ('queued')
    ORDER BY
      q.created_at,
      q.id
    LIMIT
      GREATEST(
        0,
        $2 - (
          SELECT
            o.active_executions
          FROM
            organizations o
          WHERE
            o.id = $1
        )
      )
  )
RETURNING
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at;

-- FlowExecutionsRepository.findExpired
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

-- FlowExecutionsRepository.deleteExpired
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
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  due.status AS previous_status;

-- FlowExecutionsRepository.findDue
-- params: [100]
SELECT
  fe.organization_id,
  fe.id
FROM
  flow_executions fe
WHERE
  fe.timeout_at <= now()
ORDER BY
  fe.timeout_at
LIMIT
  $1;

-- FlowExecutionsRepository.countOverdue
-- params: [1000,100000]
SELECT
  count(*)::int AS n
FROM
  (
    SELECT
      1
    FROM
      flow_executions fe
    WHERE
      fe.timeout_at <= now() - make_interval(secs => $1 / 1000.0)
    LIMIT
      $2
  ) overdue;

-- FlowExecutionsRepository.tryLockDue
-- params: [["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001"]]
SELECT
  fe.id,
  fe.organization_id,
  fe.flow_id,
  fe.flow_version,
  fe.status,
  fe.input::text AS input,
  fe.run_number,
  fe.redrive_count,
  fe.triggered_task_executor_name,
  fe.pricing_config_id,
  fe.modified_by,
  fe.traceparent,
  fe.tracestate,
  to_char(
    fe.created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS created_at,
  to_char(
    fe.updated_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
  ) AS updated_at,
  CASE
    WHEN fe.timeout_at <= clock_timestamp() THEN fe.timeout_reason
  END AS due_reason
FROM
  flow_executions fe
WHERE
  fe.id = ANY ($1::uuid[])
ORDER BY
  fe.id
FOR NO KEY UPDATE
  SKIP LOCKED;
