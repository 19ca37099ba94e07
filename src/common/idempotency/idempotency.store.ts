import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { stringify } from '../http/raw-json';
import { driverPool, driverQuery } from '../../database/driver-pool';
import { LOGGER } from '../../logging/logger';

export interface IdempotencyScope {
  organizationId: string;
  operation: string;
  key: string;
}

export type Claim = { kind: 'owner'; owner: string } | { kind: 'replay'; status: number; body: unknown } | { kind: 'in_progress' } | { kind: 'reused' };

// A request still marked running this long after it started is taken to have died with its process.
const LOCK_SECONDS = 60;
const PURGE_INTERVAL_MS = 60_000;
const PURGE_BATCH = 1_000;

/**
 * Claims a key with one statement: a new key, an expired one, or one abandoned by a dead process
 * becomes this request's (the row is the lock, in every process); any other answers what it holds.
 */
const CLAIM = `
  WITH claimed AS (
    INSERT INTO idempotency_keys AS k (organization_id, operation, key, request_hash, owner, locked_until, created_at)
    VALUES ($1, $2, $3, $4, $5, now() + $6 * interval '1 second', now())
    ON CONFLICT (organization_id, operation, key) DO UPDATE
       SET request_hash = EXCLUDED.request_hash, owner = EXCLUDED.owner, locked_until = EXCLUDED.locked_until,
           response_status = NULL, response_body = NULL, created_at = EXCLUDED.created_at
     WHERE k.created_at < now() - $7 * interval '1 hour'
        OR (k.response_status IS NULL AND k.locked_until < now() AND k.request_hash = EXCLUDED.request_hash)
    RETURNING true AS owned
  )
  SELECT true AS owned, NULL::text AS request_hash, NULL::smallint AS response_status, NULL::jsonb AS response_body FROM claimed
  UNION ALL
  SELECT false, k.request_hash, k.response_status, k.response_body
    FROM idempotency_keys k
   WHERE k.organization_id = $1 AND k.operation = $2 AND k.key = $3 AND NOT EXISTS (SELECT 1 FROM claimed)`;

@Injectable()
export class IdempotencyStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private purgeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async claim(scope: IdempotencyScope, requestHash: string): Promise<Claim> {
    const owner = randomUUID();
    const params = [scope.organizationId, scope.operation, scope.key, requestHash, owner, LOCK_SECONDS, this.config.idempotencyTtlHours];
    // No row: the conflicting row committed after this statement's snapshot was taken; ask again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const { rows } = await driverQuery<{ owned: boolean; request_hash: string | null; response_status: number | null; response_body: unknown }>(
        this.dataSource,
        { name: 'idempotency_claim', text: CLAIM },
        params,
      );
      const row = rows[0];
      if (!row) continue;
      if (row.owned) return { kind: 'owner', owner };
      if (row.request_hash !== requestHash) return { kind: 'reused' };
      if (row.response_status === null) return { kind: 'in_progress' };
      return { kind: 'replay', status: row.response_status, body: row.response_body };
    }
    return { kind: 'in_progress' };
  }

  /** Keeps the first request's answer for replay. */
  async complete(scope: IdempotencyScope, owner: string, status: number, body: unknown): Promise<void> {
    await driverPool(this.dataSource).query(
      `UPDATE idempotency_keys SET response_status = $5, response_body = $6::jsonb
        WHERE organization_id = $1 AND operation = $2 AND key = $3 AND owner = $4 AND response_status IS NULL`,
      [scope.organizationId, scope.operation, scope.key, owner, status, body === undefined ? null : stringify(body)],
    );
  }

  /** Frees the key for a retry (an answer that is not kept: validation errors, failures). */
  async release(scope: IdempotencyScope, owner: string): Promise<void> {
    await driverPool(this.dataSource).query(
      `DELETE FROM idempotency_keys WHERE organization_id = $1 AND operation = $2 AND key = $3 AND owner = $4 AND response_status IS NULL`,
      [scope.organizationId, scope.operation, scope.key, owner],
    );
  }

  onApplicationBootstrap(): void {
    const purge = () => this.purgeExpired().catch((err: unknown) => this.logger.warn({ err }, 'idempotency key sweep failed'));
    this.purgeTimer = setInterval(purge, PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
  }

  /**
   * Removes keys older than `IDEMPOTENCY_TTL_HOURS`, a small batch a statement, skipping rows a
   * request holds: writers never wait on it, and every replica may run it at once.
   */
  async purgeExpired(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.config.idempotencyTtlHours * 3_600_000);
    let total = 0;
    for (let removed = PURGE_BATCH; removed === PURGE_BATCH; total += removed) {
      const result = await driverPool(this.dataSource).query(
        `DELETE FROM idempotency_keys
          WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
        [cutoff, PURGE_BATCH],
      );
      removed = result.rowCount ?? 0;
    }
    return total;
  }
}
