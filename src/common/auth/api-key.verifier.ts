import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { isRole } from './permissions';
import type { Principal } from './principal';

export const API_KEY_PREFIX = 'saf_';

export function hashApiKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Looks the key up on every request, so that deleting a key or its service account takes effect
 * at once in every server process. One indexed query.
 */
@Injectable()
export class ApiKeyVerifier {
  constructor(private readonly dataSource: DataSource) {}

  async verify(token: string): Promise<Principal | null> {
    if (!token.startsWith(API_KEY_PREFIX) || token.length > 200) return null;
    const rows: { service_account_id: string; organization_id: string; role: string }[] = await this.dataSource.query(
      `SELECT k.service_account_id, k.organization_id, sa.role
         FROM api_keys k
         JOIN service_accounts sa ON sa.id = k.service_account_id
        WHERE k.token_hash = $1 AND k.deleted_at IS NULL AND sa.deleted_at IS NULL AND sa.status = 'active'`,
      [hashApiKey(token)],
    );
    const row = rows[0];
    if (!row || !isRole(row.role)) return null;
    return { subject: row.service_account_id, organizationId: row.organization_id, role: row.role, credential: 'api_key' };
  }
}
