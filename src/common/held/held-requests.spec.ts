import type { AppConfig } from '../../config/app-config';
import { loadConfig } from '../../config/app-config';
import type { Principal } from '../auth/principal';
import { AppError } from '../errors/app-error';
import type { MetricsService } from '../metrics/metrics.service';
import { HeldRequests } from './held-requests';

describe('HeldRequests', () => {
  const metrics = {
    heldRequests: { inc: jest.fn(), dec: jest.fn() },
    heldRejections: { inc: jest.fn() },
  } as unknown as MetricsService;
  const config = { heldRequests: { perOrganization: 3, perCredential: 2 } } as AppConfig;
  const caller = (organizationId: string, subject: string): Principal => ({ organizationId, subject, role: 'app_user', credential: 'jwt' });
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return error instanceof AppError ? [error.code, (error.details as { policy: string }).policy] : error;
    }
    return null;
  };

  it('refuses past the credential cap, then past the organization cap, and frees each place once', () => {
    const held = new HeldRequests(config, metrics);
    const alice = caller('org', 'alice');
    const first = held.hold(alice);
    held.hold(alice);
    expect(refusal(() => held.hold(alice))).toEqual(['rate_limited', 'held_requests_credential']);
    held.hold(caller('org', 'bob'));
    expect(refusal(() => held.hold(caller('org', 'carol')))).toEqual(['rate_limited', 'held_requests_organization']);
    // Another organization, and the same subject in another organization, are counted apart.
    held.hold(caller('other', 'alice'));
    expect(held.count('org')).toBe(3);
    first();
    first();
    expect(held.count('org')).toBe(2);
    held.hold(alice);
    expect(held.count('org')).toBe(3);
  });

  it('reads its caps from HELD_REQUESTS_PER_ORG and HELD_REQUESTS_PER_CREDENTIAL, and refuses bad ones at boot', () => {
    expect(loadConfig({}).heldRequests).toEqual({ perOrganization: 1000, perCredential: 200 });
    expect(loadConfig({ HELD_REQUESTS_PER_ORG: '10', HELD_REQUESTS_PER_CREDENTIAL: '5' }).heldRequests).toEqual({ perOrganization: 10, perCredential: 5 });
    expect(() => loadConfig({ HELD_REQUESTS_PER_ORG: '0', HELD_REQUESTS_PER_CREDENTIAL: 'many' })).toThrow(
      /HELD_REQUESTS_PER_ORG must be an integer.*HELD_REQUESTS_PER_CREDENTIAL must be an integer/,
    );
    expect(loadConfig({}).webhooks).toMatchObject({ perOrganization: 50, organizationConcurrency: 8 });
    expect(() => loadConfig({ WEBHOOKS_PER_ORG: '-1', WEBHOOK_ORG_CONCURRENCY: '0' })).toThrow(/WEBHOOKS_PER_ORG.*WEBHOOK_ORG_CONCURRENCY/);
  });
});
