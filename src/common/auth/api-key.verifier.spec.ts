import type { DataSource } from 'typeorm';
import type { CredentialChanges } from './credential-changes';
import { ApiKeyVerifier } from './api-key.verifier';

describe('ApiKeyVerifier cache', () => {
  let now: number;
  let notifier: { listening: boolean; credentialsGeneration: number };
  let lookups: number;
  let verifier: ApiKeyVerifier;

  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    notifier = { listening: true, credentialsGeneration: 0 };
    lookups = 0;
    const pool = {
      query: async () => {
        lookups++;
        return { rows: [{ service_account_id: 'sa', organization_id: 'org', role: 'worker' }] };
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

  it('trusts a cached key for at most one second while no one listens', async () => {
    notifier.listening = false;
    await verifier.verify('saf_a');
    now += 999;
    await verifier.verify('saf_a');
    expect(lookups).toBe(1);
    now += 1;
    await verifier.verify('saf_a');
    expect(lookups).toBe(2);
  });

  it('does not cache an answer read while a change arrived', async () => {
    const pool = (verifier as unknown as { dataSource: { driver: { master: { query: () => Promise<unknown> } } } }).dataSource.driver.master;
    const query = pool.query;
    pool.query = async () => {
      notifier.credentialsGeneration++;
      return query();
    };
    await verifier.verify('saf_a');
    pool.query = query;
    await verifier.verify('saf_a');
    expect(lookups).toBe(2);
  });

  it('never caches an unknown key, and refuses a token without the prefix without a lookup', async () => {
    const pool = (verifier as unknown as { dataSource: { driver: { master: { query: () => Promise<unknown> } } } }).dataSource.driver.master;
    pool.query = async () => {
      lookups++;
      return { rows: [] };
    };
    expect(await verifier.verify('saf_unknown')).toBeNull();
    expect(await verifier.verify('saf_unknown')).toBeNull();
    expect(lookups).toBe(2);
    expect(await verifier.verify('not-a-key')).toBeNull();
    expect(lookups).toBe(2);
  });
});
