import type { DataSource } from 'typeorm';
import type { CredentialChanges } from './credential-changes';
import { ApiKeyVerifier } from './api-key.verifier';

describe('ApiKeyVerifier cache', () => {
  let now: number;
  let notifier: { listening: boolean; credentialsGeneration: number };
  let lookups: number;
  let verifier: ApiKeyVerifier;
  /** Whether the database knows the key. */
  let found: boolean;
  /** Whether a credential change arrives while the next lookups run. */
  let changeDuringLookup: boolean;

  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    notifier = { listening: true, credentialsGeneration: 0 };
    lookups = 0;
    found = true;
    changeDuringLookup = false;
    const pool = {
      query: async () => {
        lookups++;
        if (changeDuringLookup) notifier.credentialsGeneration++;
        return { rows: found ? [{ service_account_id: 'sa', organization_id: 'org', role: 'worker' }] : [] };
      },
    };
    verifier = new ApiKeyVerifier({ driver: { master: pool } } as unknown as DataSource, notifier as unknown as CredentialChanges);
  });
  afterEach(() => jest.restoreAllMocks());

  it('answers from the cache while the listener is up and nothing changed', async () => {
    await verifier.verify('saf_a');
    now += 5_000;
    expect(await verifier.verify('saf_a')).toMatchObject({ subject: 'sa', role: 'worker' });
    expect(lookups).toBe(1);
  });

  it('drops every cached key on a credential change', async () => {
    await verifier.verify('saf_a');
    notifier.credentialsGeneration++;
    await verifier.verify('saf_a');
    expect(lookups).toBe(2);
  });

  it.each([true, false])('trusts an answer for at most one second while no one listens (key known: %s)', async (known) => {
    found = known;
    notifier.listening = false;
    await verifier.verify('saf_a');
    now += 999;
    await verifier.verify('saf_a');
    expect(lookups).toBe(1);
    now += 1;
    await verifier.verify('saf_a');
    expect(lookups).toBe(2);
  });

  it.each([true, false])('does not cache an answer read while a change arrived (key known: %s)', async (known) => {
    found = known;
    changeDuringLookup = true;
    await verifier.verify('saf_a');
    changeDuringLookup = false;
    await verifier.verify('saf_a');
    expect(lookups).toBe(2);
  });

  describe('unknown keys', () => {
    beforeEach(() => {
      found = false;
    });

    it('costs one lookup per key per five seconds while the listener is up', async () => {
      expect(await verifier.verify('saf_unknown')).toBeNull();
      now += 4_999;
      expect(await verifier.verify('saf_unknown')).toBeNull();
      expect(lookups).toBe(1);
      now += 1;
      expect(await verifier.verify('saf_unknown')).toBeNull();
      expect(lookups).toBe(2);
    });

    it('forgets every unknown key on a credential change, so a key made valid works at once', async () => {
      await verifier.verify('saf_unknown');
      found = true;
      notifier.credentialsGeneration++;
      expect(await verifier.verify('saf_unknown')).toMatchObject({ subject: 'sa' });
      expect(lookups).toBe(2);
    });

    it('shares one lookup among concurrent requests with the same key', async () => {
      const answers = await Promise.all(Array.from({ length: 50 }, () => verifier.verify('saf_unknown')));
      expect(answers.every((a) => a === null)).toBe(true);
      expect(lookups).toBe(1);
      await Promise.all([verifier.verify('saf_a'), verifier.verify('saf_b'), verifier.verify('saf_a')]);
      expect(lookups).toBe(3);
    });

    it('keeps a bounded number, evicting the least recently seen', async () => {
      await verifier.verify('saf_first');
      for (let i = 0; i < 4_095; i++) await verifier.verify(`saf_${i}`);
      expect(lookups).toBe(4_096);
      await verifier.verify('saf_first'); // seen again: now the most recent
      await verifier.verify('saf_one_more'); // evicts saf_0, the least recently seen
      expect(lookups).toBe(4_097);
      await verifier.verify('saf_first');
      expect(lookups).toBe(4_097);
      await verifier.verify('saf_0');
      expect(lookups).toBe(4_098);
      expect((verifier as unknown as { unknown: Map<string, unknown> }).unknown.size).toBe(4_096);
    });

    it('refuses a token without the prefix, or too long, without a lookup', async () => {
      expect(await verifier.verify('not-a-key')).toBeNull();
      expect(await verifier.verify(`saf_${'x'.repeat(300)}`)).toBeNull();
      expect(lookups).toBe(0);
    });
  });
});
