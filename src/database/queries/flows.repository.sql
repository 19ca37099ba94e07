-- Written by `npm run sql:queries` from the @GenerateSql samples in src/flows/flows.repository.ts: do not edit.

-- FlowsRepository.findWithLatest
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  f.id,
  f.organization_id,
  f.display_name,
  f.description,
  f.visibility,
  f.settings,
  f.status,
  f.tags,
  f.latest_version,
  f.executions_count,
  f.last_execution_at,
  f.deleted,
  f.created_at,
  f.updated_at,
  f.modified_by,
  v.flow_id AS v_flow_id,
  v.version AS v_version,
  v.name AS v_name,
  v.is_favourite AS v_is_favourite,
  v.created_at AS v_created_at,
  v.updated_at AS v_updated_at,
  v.modified_by AS v_modified_by,
  v.definition::text AS v_definition_text
FROM
  flows f
  JOIN flow_versions v ON v.flow_id = f.id
  AND v.version = f.latest_version
WHERE
  f.id = $1
  AND NOT f.deleted;

-- FlowsRepository.readWithLatest
COPY (
  SELECT
    q.head::text,
    q.definition::text
  FROM
    (
      SELECT
        row_to_json(head) AS head,
        v.definition
      FROM
        flows f
        JOIN flow_versions v ON v.flow_id = f.id
        AND v.version = f.latest_version
        CROSS JOIN LATERAL (
          SELECT
            f.id,
            f.organization_id,
            f.display_name,
            f.description,
            f.visibility,
            f.settings,
            f.status,
            f.tags,
            f.latest_version,
            f.executions_count,
            f.last_execution_at,
            f.deleted,
            f.created_at,
            f.updated_at,
            f.modified_by,
            v.flow_id AS v_flow_id,
            v.version AS v_version,
            v.name AS v_name,
            v.is_favourite AS v_is_favourite,
            v.created_at AS v_created_at,
            v.updated_at AS v_updated_at,
            v.modified_by AS v_modified_by
        ) head
      WHERE
        f.id = '00000000-0000-4000-a000-000000000000'
        AND NOT f.deleted
    ) q
) TO STDOUT (FORMAT binary);

-- FlowsRepository.findFlow
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  f.id,
  f.organization_id,
  f.display_name,
  f.description,
  f.visibility,
  f.settings,
  f.status,
  f.tags,
  f.latest_version,
  f.executions_count,
  f.last_execution_at,
  f.deleted,
  f.created_at,
  f.updated_at,
  f.modified_by
FROM
  flows f
WHERE
  f.id = $1
  AND NOT f.deleted;

-- FlowsRepository.findExecutable
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  f.id,
  f.organization_id,
  f.latest_version,
  v.definition
FROM
  flows f
  JOIN flow_versions v ON v.flow_id = f.id
  AND v.version = f.latest_version
WHERE
  f.id = $1
  AND NOT f.deleted;

-- FlowsRepository.findDefinition
-- params: ["00000000-0000-4000-a000-000000000000",1]
SELECT
  definition
FROM
  flow_versions
WHERE
  flow_id = $1
  AND version = $2;

-- FlowsRepository.findDefinitions
-- params: [["00000000-0000-4000-a000-000000000000","00000000-0000-4000-a000-000000000001"],[1,2]]
SELECT
  flow_id,
  version,
  definition
FROM
  flow_versions
WHERE
  (flow_id, version) IN (
    SELECT
      *
    FROM
      unnest($1::uuid[], $2::int[])
  );

-- FlowsRepository.listPage (first page)
COPY (
  SELECT
    q.head::text,
    q.definition::text
  FROM
    (
      SELECT
        json_build_object(
          'total',
          counted.total,
          'n',
          listed.n,
          'flow',
          listed.head
        ) AS head,
        listed.definition
      FROM
        (
          SELECT
            count(*)::int AS total
          FROM
            flows f
          WHERE
            f.organization_id = '00000000-0000-4000-a000-000000000000'
            AND NOT f.deleted
        ) counted
        LEFT JOIN LATERAL (
          SELECT
            row_to_json(h) AS head,
            v.definition,
            page.n
          FROM
            (
              SELECT
                w.id,
                w.version,
                count(*) OVER () AS fetched,
                row_number() OVER (
                  ORDER BY
                    w.sort_key DESC,
                    w.id DESC
                ) AS n,
                sum(w.bytes) OVER (
                  ORDER BY
                    w.sort_key DESC,
                    w.id DESC ROWS UNBOUNDED PRECEDING
                ) AS bytes
              FROM
                (
                  SELECT
                    f.id,
                    f.created_at AS sort_key,
                    v.version,
                    500 + pg_column_size(v.definition) AS bytes
                  FROM
                    flows f
                    JOIN flow_versions v ON v.flow_id = f.id
                    AND v.version = f.latest_version
                  WHERE
                    f.organization_id = '00000000-0000-4000-a000-000000000000'
                    AND NOT f.deleted
                  ORDER BY
                    f.created_at DESC,
                    f.id DESC
                  LIMIT
                    '50'
                  OFFSET
                    '0'
                ) w
            ) page
            JOIN flows f ON f.id = page.id
            JOIN flow_versions v ON v.flow_id = page.id
            AND v.version = page.version
            CROSS JOIN LATERAL (
              SELECT
                f.id,
                f.organization_id,
                f.display_name,
                f.description,
                f.visibility,
                f.settings,
                f.status,
                f.tags,
                f.latest_version,
                f.executions_count,
                f.last_execution_at,
                f.deleted,
                f.created_at,
                f.updated_at,
                f.modified_by,
                v.flow_id AS v_flow_id,
                v.version AS v_version,
                v.name AS v_name,
                v.is_favourite AS v_is_favourite,
                v.created_at AS v_created_at,
                v.updated_at AS v_updated_at,
                v.modified_by AS v_modified_by,
                page.fetched
            ) h
          WHERE
            page.n = 1
            OR page.bytes <= '4194304'
        ) listed ON true
      ORDER BY
        listed.n
    ) q
) TO STDOUT (FORMAT binary);

-- FlowsRepository.listPage (search and tags, by name)
COPY (
  SELECT
    q.head::text,
    q.definition::text
  FROM
    (
      SELECT
        json_build_object(
          'total',
          counted.total,
          'n',
          listed.n,
          'flow',
          listed.head
        ) AS head,
        listed.definition
      FROM
        (
          SELECT
            count(*)::int AS total
          FROM
            flows f
          WHERE
            f.organization_id = '00000000-0000-4000-a000-000000000000'
            AND NOT f.deleted
            AND f.display_name ILIKE '%invoice%' ESCAPE '\'
            AND f.tags && '{"finance","ops"}'::text[]
            AND NOT (f.tags && '{"archived"}'::text[])
        ) counted
        LEFT JOIN LATERAL (
          SELECT
            row_to_json(h) AS head,
            v.definition,
            page.n
          FROM
            (
              SELECT
                w.id,
                w.version,
                count(*) OVER () AS fetched,
                row_number() OVER (
                  ORDER BY
                    w.sort_key ASC,
                    w.id ASC
                ) AS n,
                sum(w.bytes) OVER (
                  ORDER BY
                    w.sort_key ASC,
                    w.id ASC ROWS UNBOUNDED PRECEDING
                ) AS bytes
              FROM
                (
                  SELECT
                    f.id,
                    f.display_name AS sort_key,
                    v.version,
                    500 + pg_column_size(v.definition) AS bytes
                  FROM
                    flows f
                    JOIN flow_versions v ON v.flow_id = f.id
                    AND v.version = f.latest_version
                  WHERE
                    f.organization_id = '00000000-0000-4000-a000-000000000000'
                    AND NOT f.deleted
                    AND f.display_name ILIKE '%invoice%' ESCAPE '\'
                    AND f.tags && '{"finance","ops"}'::text[]
                    AND NOT (f.tags && '{"archived"}'::text[])
                  ORDER BY
                    f.display_name ASC,
                    f.id ASC
                  LIMIT
                    '50'
                  OFFSET
                    '50'
                ) w
            ) page
            JOIN flows f ON f.id = page.id
            JOIN flow_versions v ON v.flow_id = page.id
            AND v.version = page.version
            CROSS JOIN LATERAL (
              SELECT
                f.id,
                f.organization_id,
                f.display_name,
                f.description,
                f.visibility,
                f.settings,
                f.status,
                f.tags,
                f.latest_version,
                f.executions_count,
                f.last_execution_at,
                f.deleted,
                f.created_at,
                f.updated_at,
                f.modified_by,
                v.flow_id AS v_flow_id,
                v.version AS v_version,
                v.name AS v_name,
                v.is_favourite AS v_is_favourite,
                v.created_at AS v_created_at,
                v.updated_at AS v_updated_at,
                v.modified_by AS v_modified_by,
                page.fetched
            ) h
          WHERE
            page.n = 1
            OR page.bytes <= '4194304'
        ) listed ON true
      ORDER BY
        listed.n
    ) q
) TO STDOUT (FORMAT binary);

-- FlowsRepository.latestVersionExecutionCounts
-- params: ["00000000-0000-4000-a000-000000000000",["00000000-0000-4000-a000-000000000001"]]
SELECT DISTINCT
  ON (flow_id) flow_id,
  count(*)::int AS n
FROM
  flow_executions
WHERE
  organization_id = $1
  AND flow_id = ANY ($2::uuid[])
  AND status <> 'deleted'
GROUP BY
  flow_id,
  flow_version
ORDER BY
  flow_id,
  flow_version DESC;

-- FlowsRepository.update
-- params: ["Invoices",["finance"],"sample","00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000",false]
UPDATE "flows"
SET
  "display_name" = $1,
  "tags" = $2,
  "modified_by" = $3,
  "updated_at" = CURRENT_TIMESTAMP
WHERE
  (
    "id" = $4
    AND "organization_id" = $5
    AND "deleted" = $6
  );

-- FlowsRepository.softDelete
-- params: [true,"sample","00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000",false]
UPDATE "flows"
SET
  "deleted" = $1,
  "modified_by" = $2,
  "updated_at" = CURRENT_TIMESTAMP
WHERE
  (
    "id" = $3
    AND "organization_id" = $4
    AND "deleted" = $5
  );

-- FlowsRepository.listVersions
-- params: ["00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000",null,101]
SELECT
  v.version,
  500 + pg_column_size(v.definition) AS bytes
FROM
  flow_versions v
  JOIN flows f ON f.id = v.flow_id
WHERE
  v.flow_id = $1
  AND f.organization_id = $2
  AND NOT f.deleted
  AND (
    $3::int IS NULL
    OR v.version < $3
  )
ORDER BY
  v.version DESC
LIMIT
  $4;

-- FlowsRepository.listVersions (after a cursor)
-- params: ["00000000-0000-4000-a000-000000000001","00000000-0000-4000-a000-000000000000",7,101]
SELECT
  v.version,
  500 + pg_column_size(v.definition) AS bytes
FROM
  flow_versions v
  JOIN flows f ON f.id = v.flow_id
WHERE
  v.flow_id = $1
  AND f.organization_id = $2
  AND NOT f.deleted
  AND (
    $3::int IS NULL
    OR v.version < $3
  )
ORDER BY
  v.version DESC
LIMIT
  $4;

-- FlowsRepository.findVersion
COPY (
  SELECT
    q.head::text,
    q.definition::text
  FROM
    (
      SELECT
        row_to_json(head) AS head,
        v.definition
      FROM
        flow_versions v
        JOIN flows f ON f.id = v.flow_id
        CROSS JOIN LATERAL (
          SELECT
            v.flow_id AS v_flow_id,
            v.version AS v_version,
            v.name AS v_name,
            v.is_favourite AS v_is_favourite,
            v.created_at AS v_created_at,
            v.updated_at AS v_updated_at,
            v.modified_by AS v_modified_by
        ) head
      WHERE
        v.flow_id = '00000000-0000-4000-a000-000000000001'
        AND f.organization_id = '00000000-0000-4000-a000-000000000000'
        AND NOT f.deleted
        AND v.version = '1'
    ) q
) TO STDOUT (FORMAT binary);

-- FlowsRepository.updateVersion
-- params: ["v1",true,"sample","00000000-0000-4000-a000-000000000001",1,"00000000-0000-4000-a000-000000000000"]
UPDATE "flow_versions"
SET
  "name" = $1,
  "is_favourite" = $2,
  "modified_by" = $3,
  "updated_at" = CURRENT_TIMESTAMP
WHERE
  "flow_id" = $4
  AND "version" = $5
  AND "flow_id" IN (
    SELECT
      id
    FROM
      flows
    WHERE
      organization_id = $6
      AND NOT deleted
  )
RETURNING
  "version",
  "name",
  "is_favourite",
  "created_at",
  "updated_at",
  "modified_by";
