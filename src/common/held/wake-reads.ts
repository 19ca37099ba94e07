/**
 * Shares the reads of woken held requests: every request woken by one change asks in the same turn
 * of the event loop, and those asking the same key (a feed scope at one cursor, an execution) get
 * one read, made once all of them have asked. A read is never shared with a request that asked
 * after it started, so nobody is answered from before the change that woke it.
 */
export class WakeReads<T> {
  private pending = new Map<
    string,
    { size: number; fetch: (size: number) => Promise<T>; waiters: { size: number; resolve: (value: T) => void; reject: (error: unknown) => void }[] }
  >();
  private scheduled = false;

  /** `counted` is called once per read made. */
  constructor(
    private readonly slice: (value: T, size: number) => T,
    private readonly counted: () => void = () => undefined,
  ) {}

  /** The value for `key`, read with the largest `size` asked in this turn and cut to this caller's. */
  read(key: string, size: number, fetch: (size: number) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let batch = this.pending.get(key);
      if (!batch) this.pending.set(key, (batch = { size, fetch, waiters: [] }));
      batch.size = Math.max(batch.size, size);
      batch.waiters.push({ size, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batches = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    for (const batch of batches.values()) {
      this.counted();
      batch.fetch(batch.size).then(
        (value) => {
          for (const waiter of batch.waiters) waiter.resolve(waiter.size === batch.size ? value : this.slice(value, waiter.size));
        },
        (error: unknown) => {
          for (const waiter of batch.waiters) waiter.reject(error);
        },
      );
    }
  }
}
