import { WakeReads } from './wake-reads';

describe('WakeReads', () => {
  const slice = (rows: number[], size: number) => rows.slice(0, size);

  it('makes one read per key for the requests of one turn, with the largest size, cut to each', async () => {
    let reads = 0;
    const shared = new WakeReads(slice, () => reads++);
    const fetched: number[] = [];
    const fetch = async (size: number) => {
      fetched.push(size);
      return Array.from({ length: size }, (_, i) => i);
    };
    const [a, b, c] = await Promise.all([shared.read('k', 2, fetch), shared.read('k', 5, fetch), shared.read('other', 1, fetch)]);
    expect([a, b, c]).toEqual([[0, 1], [0, 1, 2, 3, 4], [0]]);
    expect(fetched.sort()).toEqual([1, 5]);
    expect(reads).toBe(2);
  });

  it('never answers a request from a read that started before it asked', async () => {
    const shared = new WakeReads(slice);
    let release: (rows: number[]) => void = () => undefined;
    let calls = 0;
    const fetch = () => {
      calls++;
      return calls === 1 ? new Promise<number[]>((resolve) => (release = resolve)) : Promise.resolve([2]);
    };
    const first = shared.read('k', 1, fetch);
    await new Promise((resolve) => setImmediate(resolve)); // the first read is under way
    const second = shared.read('k', 1, fetch);
    release([1]);
    expect(await first).toEqual([1]);
    expect(await second).toEqual([2]);
    expect(calls).toBe(2);
  });

  it('hands a failed read to each of its requests', async () => {
    const shared = new WakeReads(slice);
    const fetch = () => Promise.reject(new Error('down'));
    const answers = await Promise.allSettled([shared.read('k', 1, fetch), shared.read('k', 1, fetch)]);
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected']);
  });
});
