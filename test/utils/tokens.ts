import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Role } from '../../src/common/auth/permissions';

const secret = () => new TextEncoder().encode(process.env.JWT_SECRET);

export interface TokenOptions {
  sub?: string;
  expiresIn?: number;
  secret?: string;
  claims?: Record<string, unknown>;
}

export async function signToken(orgId: string, role: Role, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const key = options.secret ? new TextEncoder().encode(options.secret) : secret();
  return new SignJWT({ org_id: orgId, role, ...options.claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.sub ?? `user-${role}`)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(key);
}

/** A fresh organization per test, so tests never depend on each other or truncate tables. */
export async function newOrg() {
  const id = randomUUID();
  const tokens = {} as Record<Role, string>;
  for (const role of ['org_admin', 'app_user', 'integration', 'publisher', 'worker', 'backoffice'] as Role[]) {
    tokens[role] = await signToken(id, role);
  }
  const auth = (role: Role = 'org_admin') => ({ Authorization: `Bearer ${tokens[role]}` });
  return { id, tokens, auth };
}
