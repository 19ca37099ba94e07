import { Inject, Injectable } from '@nestjs/common';
import { jwtVerify } from 'jose';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { isRole } from './permissions';
import type { Principal } from './principal';
import { isUuid } from '../validation/parse-id.pipe';
import { isStorableString } from '../validation/storable';

const LEEWAY_SECONDS = 30;
const CACHE_LIMIT = 10_000;

/**
 * Verifies HS256 bearer tokens. A verified token is cached until it expires: its claims cannot
 * change, so every server process would reach the same verdict.
 */
@Injectable()
export class JwtVerifier {
  private readonly key: Uint8Array;
  private readonly cache = new Map<string, { principal: Principal; expiresAt: number }>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.key = new TextEncoder().encode(config.jwt.secret);
  }

  /** The principal, or null for any token that must be refused. */
  async verify(token: string): Promise<Principal | null> {
    const now = Date.now();
    const cached = this.cache.get(token);
    if (cached) {
      if (cached.expiresAt > now) return cached.principal;
      this.cache.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        clockTolerance: LEEWAY_SECONDS,
        issuer: this.config.jwt.issuer,
        audience: this.config.jwt.audience,
        requiredClaims: ['sub', 'org_id', 'role', 'exp'],
      });
      const { sub, org_id: organizationId, role, exp } = payload;
      // `sub` is stored as `modified_by` (varchar 255).
      if (typeof sub !== 'string' || !sub || sub.length > 255 || !isStorableString(sub) || !isUuid(organizationId) || !isRole(role)) {
        return null;
      }
      const principal: Principal = { subject: sub, organizationId: organizationId.toLowerCase(), role, credential: 'jwt', expiresAt: (exp as number) * 1000 };
      if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(token, { principal, expiresAt: ((exp as number) + LEEWAY_SECONDS) * 1000 });
      return principal;
    } catch {
      return null;
    }
  }
}
