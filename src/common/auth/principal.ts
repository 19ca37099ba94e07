import type { Role } from './permissions';

/** Who is calling: always exactly one organization. */
export interface Principal {
  /** The caller; it becomes `modified_by`. */
  subject: string;
  organizationId: string;
  role: Role;
  credential: 'jwt' | 'api_key';
  /** A JWT's `exp`, in milliseconds: a stream ends then (docs/api.md#held-requests). */
  expiresAt?: number;
  /** An API key's SHA-256, so that a stream can re-check the key without holding the token. */
  apiKeyHash?: string;
}
