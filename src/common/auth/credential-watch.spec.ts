import type { ApiKeyVerifier } from './api-key.verifier';
import type { CredentialChanges } from './credential-changes';
import { CredentialWatch } from './credential-watch';
import type { Principal } from './principal';

describe('CredentialWatch', () => {
  let valid: boolean;
  let listening: boolean;
  let lookups: number;
  let changed: () => void;
  let watch: CredentialWatch;
  const key: Principal = { subject: 'sa', organizationId: 'org', role: 'worker', credential: 'api_key', apiKeyHash: 'h' };
  const flush = () => new Promise((resolve) => jest.requireActual<typeof import('timers')>('timers').setImmediate(resolve));

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    valid = true;
    listening = true;
    lookups = 0;
    const apiKeys = {
      verifyHash: async () => {
        lookups++;
        return valid ? { ...key } : null;
      },
    } as unknown as ApiKeyVerifier;
    const changes = {
      onChange: (listener: () => void) => {
        changed = listener;
        return () => undefined;
      },
      get listening() {
        return listening;
      },
    } as unknown as CredentialChanges;
    watch = new CredentialWatch(apiKeys, changes);
  });
  afterEach(() => {
    watch.onModuleDestroy();
    jest.useRealTimers();
  });

  it("ends a JWT's lease at its exp, not before", async () => {
    const lease = watch.watch({ subject: 'u', organizationId: 'org', role: 'app_user', credential: 'jwt', expiresAt: Date.now() + 5_000 });
    jest.advanceTimersByTime(4_999);
    await flush();
    expect(lease.revoked.aborted).toBe(false);
    expect(await lease.check()).toBe(true);
    jest.advanceTimersByTime(1);
    await flush();
    expect(lease.revoked.aborted).toBe(true);
    lease.close();
  });

  it('re-checks an API key on every credential change, and ends the lease once it is refused', async () => {
    const lease = watch.watch(key);
    changed();
    await flush();
    expect([lease.revoked.aborted, lookups]).toEqual([false, 1]);
    valid = false;
    changed();
    await flush();
    expect(lease.revoked.aborted).toBe(true);
    lease.close();
  });

  it('re-checks every second while no change listener runs, and not otherwise', async () => {
    const lease = watch.watch(key);
    jest.advanceTimersByTime(3_000);
    await flush();
    expect(lookups).toBe(0);
    listening = false;
    valid = false;
    jest.advanceTimersByTime(1_000);
    await flush();
    expect(lease.revoked.aborted).toBe(true);
    lease.close();
  });
});
