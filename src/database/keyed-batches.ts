import { AsyncResource } from 'node:async_hooks';
import { DatabaseError } from 'pg';

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
  /** The async context of a waiting item's caller, so that its statement runs in it (its trace, its logs). */
  scope?: AsyncResource;
}

export interface KeyedBatchLimits<T> {
  /** The most items one statement carries. */
  maxItems: number;
  /** The most bytes (by `size`) one statement carries, when items differ in size; an item larger than this goes alone. */
  bytes?: { max: number; size: (item: T) => number };
  /** Told the number of items of each statement as it is sent (a metric). */
  sent?: (items: number) => void;
}

/**
 * Writes of one key (an organization) in shared statements, one in flight per key: with none in
 * flight for its key, an item goes at once and alone, as it would without this; items handed over
 * while one is in flight go together in the next, each getting its own result. Where writes of a
 * key serialize on a lock held until commit, a statement of n items holds it once for all n and
 * waits for one commit: under load the writes per lock hold rise with the load, and at low load an
 * item waits for nobody.
 *
 * `run` answers a result per item, in the order given, for the items of the key it is given. A
 * statement of several items that PostgreSQL refuses for what one of them holds (a data exception or
 * an integrity violation: its transaction rolled back, nothing written) is retried item by item, so
 * that one item's error is its own. Any other failure fails every item of it, as it would each alone:
 * a lost connection (the statement may have committed), a statement cancelled past its timeout (one
 * by one, each would wait again), the database shutting down.
 */
export class KeyedBatches<T, R> {
  /** A key is here while a statement of its is in flight; its items waiting for the next one. */
  private readonly waiting = new Map<string, Waiting<T, R>[]>();

  constructor(
    private readonly run: (items: T[], key: string) => Promise<R[]>,
    private readonly limits: KeyedBatchLimits<T>,
  ) {}

  add(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.waiting.get(key);
      if (queue) {
        queue.push({ item, resolve, reject, scope: new AsyncResource('KeyedBatches') });
        return;
      }
      this.waiting.set(key, []);
      void this.drain(key, [{ item, resolve, reject }]);
    });
  }

  private async drain(key: string, batch: Waiting<T, R>[]): Promise<void> {
    for (;;) {
      await this.settle(key, batch);
      const queue = this.waiting.get(key)!;
      if (queue.length === 0) {
        this.waiting.delete(key);
        return;
      }
      batch = queue.splice(0, this.taken(queue));
    }
  }

  /** How many of the queue's first items fit one statement (at least one). */
  private taken(queue: Waiting<T, R>[]): number {
    const { maxItems, bytes } = this.limits;
    if (!bytes) return Math.min(queue.length, maxItems);
    let total = bytes.size(queue[0].item);
    let n = 1;
    while (n < queue.length && n < maxItems) {
      total += bytes.size(queue[n].item);
      if (total > bytes.max) break;
      n++;
    }
    return n;
  }

  private async settle(key: string, batch: Waiting<T, R>[]): Promise<void> {
    // A statement runs in its first item's context: its span is that request's, not an earlier one's.
    const run = () =>
      this.run(
        batch.map((w) => w.item),
        key,
      );
    this.limits.sent?.(batch.length);
    let results: R[];
    try {
      results = await (batch[0].scope ? batch[0].scope.runInAsyncScope(run) : run());
    } catch (error) {
      if (batch.length > 1 && refusedForData(error)) {
        for (const one of batch) await this.settle(key, [one]);
      } else {
        for (const one of batch) one.reject(error);
      }
      return;
    }
    batch.forEach((w, i) => w.resolve(results[i]));
  }
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation): what an item's own values can cause. */
function refusedForData(error: unknown): boolean {
  return error instanceof DatabaseError && /^2[23]/.test(error.code ?? '');
}
