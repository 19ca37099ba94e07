import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { driverQuery } from '../../database/driver-pool';
import { CredentialChanges } from './credential-changes';
import { isRole } from './permissions';
import type { Principal } from './principal';

export const API_KEY_PREFIX = 'saf_';

export function hashApiKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

// While this process hears credential changes, a verified key is trusted this long; else (no listener) for at most 1 s.
const LISTENING_TTL_MS = 10_000;
const FALLBACK_TTL_MS = 1_000;
const CACHE_LIMIT = 10_000;
// An unknown key is remembered this long (1 s without the listener), the most recently seen few thousand.
const UNKNOWN_TTL_MS = 5_000;
const UNKNOWN_LIMIT = 4_096;

const FIND_KEY = {
  name: 'api_key_by_hash',
  text: `SELECT k.service_account_id, k.organization_id, sa.role
           FROM api_keys k
           JOIN service_accounts sa ON sa.id = k.service_account_id
          WHERE k.token_hash = $1 AND k.deleted_at IS NULL AND sa.deleted_at IS NULL AND sa.status = 'active'`,
};

interface Verified {
  principal: Principal;
  verifiedAt: number;
  generation: number;
}

/**
 * Verified keys are cached in process briefly: any change to a key or a service account (deleting,
 * disabling, a new role) notifies every process through PostgreSQL, which drops its cache, so a
 * revocation takes effect everywhere within milliseconds; without the listener the cache trusts
 * an answer for at most a second. Unknown keys are remembered too, a few seconds and a bounded
 * number of them, and concurrent requests with one key share one query: a flood of bad keys costs
 * the database at most one query per key per few seconds, before any rate limit applies.
 */
@Injectable()
export class ApiKeyVerifier {
  private readonly cache = new Map<string, Verified>();
  /** Hashes of unknown keys, least recently seen first: when seen, under which generation. */
  private readonly unknown = new Map<string, { seenAt: number; generation: number }>();
  private readonly inFlight = new Map<string, { generation: number; lookup: Promise<Principal | null> }>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly notifier: CredentialChanges,
  ) {}

  async verify(token: string): Promise<Principal | null> {
    if (!token.startsWith(API_KEY_PREFIX) || token.length > 200) return null;
    return this.verifyHash(hashApiKey(token));
  }

  /** As `verify`, from the key's hash: a stream re-checks its key with it (cached like any request). */
  async verifyHash(hash: string): Promise<Principal | null> {
    const now = Date.now();
    const generation = this.notifier.credentialsGeneration;
    const listening = this.notifier.listening;
    const cached = this.cache.get(hash);
    if (cached) {
      const ttl = listening ? LISTENING_TTL_MS : FALLBACK_TTL_MS;
      if (cached.generation === generation && now - cached.verifiedAt < ttl) return cached.principal;
      this.cache.delete(hash);
    }
    const miss = this.unknown.get(hash);
    if (miss) {
      this.unknown.delete(hash);
      if (miss.generation === generation && now - miss.seenAt < (listening ? UNKNOWN_TTL_MS : FALLBACK_TTL_MS)) {
        this.unknown.set(hash, miss); // most recently seen: last to be evicted
        return null;
      }
    }
    const pending = this.inFlight.get(hash);
    if (pending?.generation === generation) return pending.lookup;
    const lookup = this.lookup(hash, now, generation).finally(() => {
      if (this.inFlight.get(hash)?.lookup === lookup) this.inFlight.delete(hash);
    });
    this.inFlight.set(hash, { generation, lookup });
    return lookup;
  }

  private async lookup(hash: string, now: number, generation: number): Promise<Principal | null> {
    const { rows } = await driverQuery<{ service_account_id: string; organization_id: string; role: string }>(this.dataSource, FIND_KEY, [hash]);
    const row = rows[0];
    const principal: Principal | null =
      row && isRole(row.role)
        ? { subject: row.service_account_id, organizationId: row.organization_id, role: row.role, credential: 'api_key', apiKeyHash: hash }
        : null;
    // A change heard while the query ran may postdate what it read: then the answer serves this request only.
    if (this.notifier.credentialsGeneration !== generation) return principal;
    if (principal) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(hash, { principal, verifiedAt: now, generation });
    } else {
      if (this.unknown.size >= UNKNOWN_LIMIT) this.unknown.delete(this.unknown.keys().next().value as string);
      this.unknown.set(hash, { seenAt: now, generation });
    }
    return principal;
  }
}
