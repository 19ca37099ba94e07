import { TokenBuckets } from './token-buckets';

const policy = { rps: 2, burst: 3 };

describe('TokenBuckets', () => {
  it('allows a burst, then refuses until a token refills at rps', () => {
    const buckets = new TokenBuckets();
    const take = (at: number) => buckets.take([{ key: 'a', policy }], at);
    expect([take(0), take(0), take(0)].map((r) => [r.refused, r.states[0].remaining])).toEqual([
      [-1, 2],
      [-1, 1],
      [-1, 0],
    ]);
    expect(take(0)).toEqual({ refused: 0, states: [{ remaining: 0, resetSeconds: 1 }] });
    expect(take(499).refused).toBe(0);
    expect(take(500).refused).toBe(-1);
    expect(take(10_000).states[0]).toEqual({ remaining: 2, resetSeconds: 1 });
  });

  it('takes from every bucket or from none, and keys never share', () => {
    const buckets = new TokenBuckets();
    const small = { rps: 1, burst: 1 };
    const both = (key: string) =>
      buckets.take(
        [
          { key: 'org', policy },
          { key, policy: small },
        ],
        0,
      );
    expect(both('alice').refused).toBe(-1);
    expect(both('alice').refused).toBe(1);
    // alice's refusal cost the organization nothing: two tokens are left for bob and carol.
    expect(both('bob').states[0].remaining).toBe(1);
    expect(both('carol').states[0].remaining).toBe(0);
    expect(both('dave').refused).toBe(0);
    expect(buckets.take([{ key: 'other-org', policy }], 0).refused).toBe(-1);
  });

  it('charges a cost, and lets a request dearer than the bucket through only from a full one', () => {
    const buckets = new TokenBuckets();
    expect(buckets.take([{ key: 'a', policy }], 0, 2).states[0].remaining).toBe(1);
    expect(buckets.take([{ key: 'a', policy }], 0, 2)).toEqual({ refused: 0, states: [{ remaining: 1, resetSeconds: 1 }] });
    const dear = buckets.take([{ key: 'b', policy }], 0, 10);
    expect(dear.refused).toBe(-1);
    expect(buckets.take([{ key: 'b', policy }], 3000).refused).toBe(0); // 7 tokens in debt, 6 refilled
    expect(buckets.take([{ key: 'b', policy }], 4000).refused).toBe(-1);
  });
});
