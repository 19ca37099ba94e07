import { BatchSender } from './batch-sender';

/** A `send` whose calls stay pending until the test settles them. */
function pendingSends() {
  const calls: { batch: number[]; settle: (error?: Error) => void }[] = [];
  const send = (batch: number[]) =>
    new Promise<void>((resolve, reject) => calls.push({ batch: [...batch], settle: (error) => (error ? reject(error) : resolve()) }));
  return { calls, send };
}

const turn = () => new Promise((done) => setImmediate(done));

describe('BatchSender', () => {
  it('sends an item at once when nothing is in flight, and those handed over meanwhile together next', async () => {
    const { calls, send } = pendingSends();
    const sender = new BatchSender(send, 100, () => undefined);
    const first = sender.add(1);
    await turn();
    expect(calls.map((c) => c.batch)).toEqual([[1]]);

    sender.add(2);
    sender.add(3);
    const last = sender.add(4);
    await turn();
    expect(calls).toHaveLength(1); // the first is still in flight
    calls[0].settle();
    await turn();
    expect(calls.map((c) => c.batch)).toEqual([[1], [2, 3, 4]]);

    let settled = false;
    void last.then(() => (settled = true));
    await turn();
    expect(settled).toBe(false); // not before its own batch is sent
    calls[1].settle();
    await Promise.all([first, last]);

    // Idle again: the next item goes on its own.
    sender.add(5);
    await turn();
    expect(calls.map((c) => c.batch)).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('cuts what waits into batches of at most maxBatch', async () => {
    const { calls, send } = pendingSends();
    const sender = new BatchSender(send, 2, () => undefined);
    for (const item of [1, 2, 3, 4, 5, 6]) void sender.add(item);
    await turn();
    for (let i = 0; i < 4; i++) {
      calls[i]?.settle();
      await turn();
    }
    expect(calls.map((c) => c.batch)).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it('gives a failed batch to `failed` and still sends the next; no caller sees the error', async () => {
    const { calls, send } = pendingSends();
    const failures: [string, number[]][] = [];
    const sender = new BatchSender(send, 100, (error, batch) => failures.push([(error as Error).message, batch]));
    const first = sender.add(1);
    await turn();
    const second = sender.add(2);
    calls[0].settle(new Error('connection lost'));
    await turn();
    calls[1].settle();
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
    expect(failures).toEqual([['connection lost', [1]]]);
    expect(calls.map((c) => c.batch)).toEqual([[1], [2]]);
  });

  it('survives a send that throws before returning a promise', async () => {
    const sent: number[][] = [];
    let throwNext = true;
    const failures: number[][] = [];
    const sender = new BatchSender(
      (batch: number[]) => {
        if (throwNext) {
          throwNext = false;
          throw new Error('at once');
        }
        sent.push([...batch]);
        return Promise.resolve();
      },
      100,
      (_error, batch) => failures.push(batch),
    );
    await sender.add(1);
    await sender.add(2);
    expect(failures).toEqual([[1]]);
    expect(sent).toEqual([[2]]);
  });
});
