import type { Role } from './permissions';

/** Who is calling: always exactly one organization. */
export interface Principal {
  /** The caller; it becomes `modified_by`. */
  subject: string;
  organizationId: string;
  role: Role;
  credential: 'jwt' | 'api_key';
}
