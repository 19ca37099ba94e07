import { AsyncLocalStorage } from 'node:async_hooks';
import { DatabaseError } from 'pg';
import { KeyedBatches } from './keyed-batches';

/** A `run` whose calls stay pending until the test settles them; each answers its items doubled. */
function pendingRuns() {
  const calls: { items: number[]; settle: (error?: Error) => void }[] = [];
  const run = (items: number[]) =>
    new Promise<number[]>((resolve, reject) =>
      calls.push({ items: [...items], settle: (error) => (error ? reject(error) : resolve(items.map((i) => i * 2))) }),
    );
  return { calls, run };
}

const turn = () => new Promise((done) => setImmediate(done));
const limits = { maxItems: 100 };
/** An error PostgreSQL answers, with its SQLSTATE. */
const answered = (message: string, code: string) => Object.assign(new DatabaseError(message, 0, 'error'), { code });
const refused = () => answered('invalid input syntax for type json', '22P02');

describe('KeyedBatches', () => {
  it('runs an item at once and alone when its key has nothing in flight, and those handed over meanwhile together next', async () => {
    const { calls, run } = pendingRuns();
    const batches = new KeyedBatches(run, limits);
    const first = batches.add('a', 1);
    expect(calls.map((c) => c.items)).toEqual([[1]]); // not even a turn of the loop later

    const waiting = [batches.add('a', 2), batches.add('a', 3), batches.add('a', 4)];
    await turn();
    expect(calls).toHaveLength(1); // the first is still in flight
    calls[0].settle();
    expect(await first).toBe(2);
    await turn();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    calls[1].settle();
    expect(await Promise.all(waiting)).toEqual([4, 6, 8]); // each its own result

    // Idle again: the next item goes on its own.
    void batches.add('a', 5);
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('keeps the keys apart: one key in flight does not hold another', async () => {
    const { calls, run } = pendingRuns();
    const batches = new KeyedBatches(run, limits);
    void batches.add('a', 1);
    void batches.add('b', 2);
    void batches.add('a', 3);
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
    calls[1].settle(); // b's end does not release a's waiting item
    await turn();
    expect(calls).toHaveLength(2);
    calls[0].settle();
    await turn();
    expect(calls.map((c) => c.items)).toEqual([[1], [2], [3]]);
  });

  it('carries at most maxItems, and no more bytes than maxBytes unless one item alone', async () => {
    const { calls, run } = pendingRuns();
    const batches = new KeyedBatches(run, { maxItems: 3, bytes: { max: 10, size: (n: number) => n } });
    void batches.add('a', 0);
    for (const n of [1, 1, 1, 1, 4, 5, 20, 1]) void batches.add('a', n);
    for (let i = 0; i < 5; i++) {
      calls[i].settle();
      await turn();
    }
    // Three items; then 1 + 4 + 5 = 10 bytes; then 20 bytes alone; then the last.
    expect(calls.map((c) => c.items)).toEqual([[0], [1, 1, 1], [1, 4, 5], [20], [1]]);
  });

  it('retries the items of a statement PostgreSQL refused one by one, so that the error is only the refused item’s', async () => {
    const { calls, run } = pendingRuns();
    const ran: number[][] = [];
    const batches = new KeyedBatches((items: number[]) => {
      ran.push(items);
      if (items[0] === 0) return run(items); // the first, in flight while the others are handed over
      return items.includes(13) ? Promise.reject(refused()) : Promise.resolve(items.map((i) => i * 2));
    }, limits);
    void batches.add('a', 0);
    const outcomes = [12, 13, 14].map((n) => batches.add('a', n).catch((e: Error) => e.message));
    calls[0].settle();
    expect(await Promise.all(outcomes)).toEqual([24, 'invalid input syntax for type json', 28]);
    expect(ran).toEqual([[0], [12, 13, 14], [12], [13], [14]]);
  });

  it('fails every item of a statement cancelled past its timeout, without retrying any (one by one, each would wait again)', async () => {
    let runs = 0;
    const { calls, run } = pendingRuns();
    const batches = new KeyedBatches((items: number[]) => {
      runs++;
      return items[0] === 0 ? run(items) : Promise.reject(answered('canceling statement due to statement timeout', '57014'));
    }, limits);
    void batches.add('a', 0);
    const outcomes = [1, 2, 3].map((n) => batches.add('a', n).catch((e: Error) => e.message));
    calls[0].settle();
    expect(await Promise.all(outcomes)).toEqual(Array<string>(3).fill('canceling statement due to statement timeout'));
    expect(runs).toBe(2);
  });

  it('fails every item of a statement whose connection was lost (it may have committed), without retrying any', async () => {
    let runs = 0;
    const { calls, run } = pendingRuns();
    const batches = new KeyedBatches((items: number[]) => {
      runs++;
      return items[0] === 0 ? run(items) : Promise.reject(new Error('Connection terminated unexpectedly'));
    }, limits);
    void batches.add('a', 0);
    const outcomes = [1, 2].map((n) => batches.add('a', n).catch((e: Error) => e.message));
    calls[0].settle();
    expect(await Promise.all(outcomes)).toEqual(['Connection terminated unexpectedly', 'Connection terminated unexpectedly']);
    expect(runs).toBe(2); // the lone first, then the pair once
  });

  it('fails a lone item with its own error, and goes on with the items behind it', async () => {
    const { calls, run } = pendingRuns();
    const batches = new KeyedBatches(run, limits);
    const first = batches.add('a', 1).catch((e: Error) => e.message);
    const next = batches.add('a', 2);
    calls[0].settle(refused());
    expect(await first).toBe('invalid input syntax for type json');
    await turn();
    calls[1].settle();
    expect(await next).toBe(4);
  });

  it('runs each statement in the async context of its first item’s caller (its trace), not of an earlier caller', async () => {
    const { calls, run } = pendingRuns();
    const request = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const batches = new KeyedBatches((items: number[]) => {
      seen.push(request.getStore());
      return run(items);
    }, limits);
    void request.run('first', () => batches.add('a', 1));
    void request.run('second', () => batches.add('a', 2));
    void request.run('third', () => batches.add('a', 3));
    calls[0].settle();
    await turn();
    expect(seen).toEqual(['first', 'second']);
  });
});
