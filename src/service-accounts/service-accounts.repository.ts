import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Bytes, copyPage } from '../database/copy-query';
import { DummyValue, GenerateSql } from '../database/generate-sql';
import { isoMillisText } from '../database/sql-literals';

/** A page of service accounts or API keys ends early past this many bytes (docs/api.md#page-size-budgets). */
export const PAGE_BYTES = 4 * 1024 * 1024;
/** A row's answer without its description, about. */
const ROW_BYTES = 400;

/** The fields of ServiceAccountResponse, in its order (toServiceAccountResponse). */
const ACCOUNT_FIELDS = `SELECT r.id, ${isoMillisText('r.created_at')} AS created_at, ${isoMillisText('r.updated_at')} AS updated_at, r.modified_by,
  r.organization_id, r.name, r.description, r.status, r.role`;
/** The fields of ApiKeyResponse, in its order (toApiKeyResponse); never the token's hash. */
const KEY_FIELDS = `SELECT r.id, ${isoMillisText('r.created_at')} AS created_at, ${isoMillisText('r.updated_at')} AS updated_at, r.modified_by,
  NULL::uuid AS user_id, r.service_account_id, r.name, r.description, r.token_prefix, r.organization_id`;

export interface OffsetPageOf {
  offset: number;
  limit: number;
}

/** A page's items as the JSON array PostgreSQL wrote, left as bytes; `count` of them, of `fetched` rows the limit allowed. */
export interface WrittenPage {
  json: Bytes;
  count: number;
  fetched: number;
}

/** The lists of service accounts and API keys, written by PostgreSQL (docs/api.md#event-loop-budget). */
@Injectable()
export class ServiceAccountsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** An organization's live service accounts, oldest first. */
  @GenerateSql({ params: [DummyValue.UUID, { offset: 0, limit: 100 }] })
  accounts(organizationId: string, page: OffsetPageOf): Promise<WrittenPage> {
    return this.page('service_accounts', ACCOUNT_FIELDS, 'organization_id = $1', [organizationId], page);
  }

  /** A service account's live API keys, oldest first. */
  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID2, { offset: 0, limit: 100 }] })
  keys(organizationId: string, serviceAccountId: string, page: OffsetPageOf): Promise<WrittenPage> {
    return this.page('api_keys', KEY_FIELDS, 'organization_id = $1 AND service_account_id = $2', [organizationId, serviceAccountId], page);
  }

  /**
   * Live rows of `table` matching `where`, oldest first, by `offset` and `limit`, in one statement,
   * ended early past PAGE_BYTES after at least one row. Descriptions stored before their bound can
   * be 1 MiB each: only their sizes are summed (in page order), so only the rows sent are read in
   * full. The items are joined into one JSON array by PostgreSQL and read as the bytes they are
   * sent as: the process builds no object per row.
   */
  private async page(table: 'service_accounts' | 'api_keys', fields: string, where: string, params: unknown[], page: OffsetPageOf): Promise<WrittenPage> {
    const p = (value: unknown) => `$${params.push(value)}`;
    const sql = `SELECT json_build_object('count', count(page.n)::int, 'fetched', coalesce(max(page.fetched), 0)) AS head,
              '[' || coalesce(string_agg(page.json, ',' ORDER BY page.n), '') || ']' AS body
         FROM (SELECT 1) one
         LEFT JOIN LATERAL (
           SELECT sized.n, sized.fetched, row_to_json(item)::text AS json FROM (
             SELECT w.id, row_number() OVER o AS n, count(*) OVER () AS fetched, sum(w.bytes) OVER (o ROWS UNBOUNDED PRECEDING) AS bytes
               FROM (
                 SELECT id, created_at, ${ROW_BYTES} + coalesce(octet_length(description), 0) AS bytes
                   FROM ${table}
                  WHERE ${where} AND deleted_at IS NULL
                  ORDER BY created_at, id
                  LIMIT ${p(page.limit)} OFFSET ${p(page.offset)}
               ) w
             WINDOW o AS (ORDER BY w.created_at, w.id)
           ) sized
           JOIN ${table} r ON r.id = sized.id
           CROSS JOIN LATERAL (${fields}) item
           WHERE sized.n = 1 OR sized.bytes <= ${p(PAGE_BYTES)}
         ) page ON true`;
    // One row always: the page hangs off `(SELECT 1) one`.
    const { head, body } = (await copyPage<{ count: number; fetched: number }>(this.dataSource, sql, params))!;
    return { json: body, count: head.count, fetched: head.fetched };
  }
}
