export interface BucketPolicy {
  /** Tokens added per second. */
  rps: number;
  /** Bucket size: the most requests allowed at once after a quiet spell. */
  burst: number;
}

export interface BucketState {
  /** Whole tokens left after this request (0 when refused). */
  remaining: number;
  /** Seconds until the bucket holds this request's cost again when refused, else until it is full. */
  resetSeconds: number;
}

const SWEEP_EVERY = 10_000;

/**
 * Token buckets by key, in process memory. A full bucket is the same as none, so buckets that
 * have refilled are swept now and then: memory follows the callers active in the last few seconds.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private takes = 0;

  /**
   * Takes `cost` tokens from every bucket named, or from none: a request refused by one budget costs
   * nothing from the others. `refused` is the index of the first bucket short of them, or -1.
   */
  take(entries: { key: string; policy: BucketPolicy }[], nowMs: number, cost = 1): { refused: number; states: BucketState[] } {
    if (++this.takes % SWEEP_EVERY === 0) this.sweep(nowMs);
    const levels = entries.map(({ key, policy }) => {
      const bucket = this.buckets.get(key);
      const elapsed = bucket ? Math.max(0, nowMs - bucket.at) / 1000 : Infinity;
      return Math.min(policy.burst, (bucket?.tokens ?? policy.burst) + elapsed * policy.rps);
    });
    // A request dearer than a whole bucket is let through once the bucket is full, leaving it in debt.
    const refused = entries.findIndex(({ policy }, i) => levels[i] < Math.min(cost, policy.burst));
    const states = entries.map(({ key, policy }, i) => {
      const tokens = refused < 0 ? levels[i] - cost : levels[i];
      this.buckets.set(key, { tokens, at: nowMs });
      const wanted = Math.min(cost, policy.burst);
      const seconds = tokens < wanted ? (wanted - tokens) / policy.rps : (policy.burst - tokens) / policy.rps;
      return { remaining: Math.max(0, Math.floor(tokens)), resetSeconds: Math.ceil(seconds) };
    });
    return { refused, states };
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(nowMs: number): void {
    // Without the policy at hand, a bucket untouched for a minute is treated as refilled (bursts take seconds to refill).
    for (const [key, bucket] of this.buckets) if (nowMs - bucket.at > 60_000) this.buckets.delete(key);
  }
}
