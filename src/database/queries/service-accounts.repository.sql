-- Written by `npm run sql:queries` from the @GenerateSql samples in src/service-accounts/service-accounts.repository.ts: do not edit.

-- ServiceAccountsRepository.accounts
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      SELECT
        json_build_object(
          'count',
          count(page.n)::int,
          'fetched',
          coalesce(max(page.fetched), 0)
        ) AS head,
        '[' || coalesce(
          string_agg(
            page.json,
            ','
            ORDER BY
              page.n
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
            sized.n,
            sized.fetched,
            row_to_json(item)::text AS json
          FROM
            (
              SELECT
                w.id,
                row_number() OVER o AS n,
                count(*) OVER () AS fetched,
                sum(w.bytes) OVER (o ROWS UNBOUNDED PRECEDING) AS bytes
              FROM
                (
                  SELECT
                    id,
                    created_at,
                    400 + coalesce(octet_length(description), 0) AS bytes
                  FROM
                    service_accounts
                  WHERE
                    organization_id = '00000000-0000-4000-a000-000000000000'
                    AND deleted_at IS NULL
                  ORDER BY
                    created_at,
                    id
                  LIMIT
                    '100'
                  OFFSET
                    '0'
                ) w
              WINDOW
                o AS (
                  ORDER BY
                    w.created_at,
                    w.id
                )
            ) sized
            JOIN service_accounts r ON r.id = sized.id
            CROSS JOIN LATERAL (
              SELECT
                r.id,
                to_char(
                  r.created_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS created_at,
                to_char(
                  r.updated_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS updated_at,
                r.modified_by,
                r.organization_id,
                r.name,
                r.description,
                r.status,
                r.role
            ) item
          WHERE
            sized.n = 1
            OR sized.bytes <= '4194304'
        ) page ON true
    ) q
) TO STDOUT (FORMAT binary);

-- ServiceAccountsRepository.keys
COPY (
  SELECT
    q.head::text,
    q.body::text
  FROM
    (
      SELECT
        json_build_object(
          'count',
          count(page.n)::int,
          'fetched',
          coalesce(max(page.fetched), 0)
        ) AS head,
        '[' || coalesce(
          string_agg(
            page.json,
            ','
            ORDER BY
              page.n
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
            sized.n,
            sized.fetched,
            row_to_json(item)::text AS json
          FROM
            (
              SELECT
                w.id,
                row_number() OVER o AS n,
                count(*) OVER () AS fetched,
                sum(w.bytes) OVER (o ROWS UNBOUNDED PRECEDING) AS bytes
              FROM
                (
                  SELECT
                    id,
                    created_at,
                    400 + coalesce(octet_length(description), 0) AS bytes
                  FROM
                    api_keys
                  WHERE
                    organization_id = '00000000-0000-4000-a000-000000000000'
                    AND service_account_id = '00000000-0000-4000-a000-000000000001'
                    AND deleted_at IS NULL
                  ORDER BY
                    created_at,
                    id
                  LIMIT
                    '100'
                  OFFSET
                    '0'
                ) w
              WINDOW
                o AS (
                  ORDER BY
                    w.created_at,
                    w.id
                )
            ) sized
            JOIN api_keys r ON r.id = sized.id
            CROSS JOIN LATERAL (
              SELECT
                r.id,
                to_char(
                  r.created_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS created_at,
                to_char(
                  r.updated_at AT TIME ZONE 'UTC',
                  'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
                ) AS updated_at,
                r.modified_by,
                NULL::uuid AS user_id,
                r.service_account_id,
                r.name,
                r.description,
                r.token_prefix,
                r.organization_id
            ) item
          WHERE
            sized.n = 1
            OR sized.bytes <= '4194304'
        ) page ON true
    ) q
) TO STDOUT (FORMAT binary);
