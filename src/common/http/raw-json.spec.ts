import { nextSlice, RawJson, RawJsonBytes, stringify, stringifySliced } from './raw-json';

describe('raw JSON splicing', () => {
  const value = {
    id: 'a"b',
    n: 1.5,
    missing: undefined,
    nil: null,
    when: new Date('2026-01-02T03:04:05.000Z'),
    nested: { list: [1, 'two', { three: [null] }], empty: {} },
    input: new RawJson('{"x": [1, 2, {"y": "\\u00e9"}]}'),
  };
  const parsed = { ...value, input: { x: [1, 2, { y: 'é' }] } };

  it('serializes as JSON.stringify would, with the raw text spliced in', () => {
    expect(JSON.parse(stringify(value))).toEqual(JSON.parse(JSON.stringify(parsed)));
    expect(stringify([1, undefined, 'x'])).toBe(JSON.stringify([1, undefined, 'x']));
    expect(stringify(new RawJson('null'))).toBe('null');
  });

  it('splices the text as is, at any depth, and nothing else: exactly the walk of plain objects and arrays', () => {
    const raw = new RawJson('{"a": [1, 2], "b": "x\\u0000y"}');
    const body = { list: [raw, { deep: [raw, null] }], raw, n: -0, s: 'line\n"quoted"', missing: undefined, when: new Date(0) };
    expect(stringify(body)).toBe(
      '{"list":[{"a": [1, 2], "b": "x\\u0000y"},{"deep":[{"a": [1, 2], "b": "x\\u0000y"},null]}],"raw":{"a": [1, 2], "b": "x\\u0000y"},' +
        '"n":0,"s":"line\\n\\"quoted\\"","when":"1970-01-01T00:00:00.000Z"}',
    );
    // A string that looks like a marker, without the process's nonce, is a string.
    expect(stringify({ s: '\u0000abc:0\u0000', raw })).toBe('{"s":"\\u0000abc:0\\u0000","raw":{"a": [1, 2], "b": "x\\u0000y"}}');
    // Outside stringify, JSON.stringify gives the value a RawJson holds.
    expect(JSON.stringify({ raw })).toBe('{"raw":{"a":[1,2],"b":"x\\u0000y"}}');
  });

  it('a RawJson serialized by JSON.stringify gives the value it holds', () => {
    expect(JSON.parse(JSON.stringify(value))).toEqual(JSON.parse(JSON.stringify(parsed)));
  });

  it('the sliced serialization gives the same text as the one-go one, for long arrays and pages', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({ ...value, i }));
    expect(await stringifySliced(rows)).toBe(stringify(rows));
    expect(await stringifySliced({ task_executions: rows, more: false })).toBe(stringify({ task_executions: rows, more: false }));
  });

  it('bytes spliced into an answer give the text the same JSON as text gives, however they are cut', async () => {
    const page = JSON.stringify([
      { name: 'ünïcödé ✓ 😀', n: 1 },
      { name: 'x"\\y', n: 2 },
    ]);
    const bytes = Buffer.from(page);
    // Cut inside a multi-byte character too: the bytes are sent as they are, never decoded.
    const cut = new RawJsonBytes([bytes.subarray(0, 13), bytes.subarray(13, 14), bytes.subarray(14)]);
    const sent = async (body: unknown) => {
      const out = await stringifySliced(body);
      return typeof out === 'string' ? out : Buffer.concat(out).toString();
    };
    expect(await sent(cut)).toBe(page);
    expect(await sent({ task_executions: cut, more: false })).toBe(stringify({ task_executions: new RawJson(page), more: false }));
    expect(Array.isArray(await stringifySliced({ task_executions: cut }))).toBe(true);
    // In the items of an array there (a page of flows, each with its definition), bytes too.
    const flows = { flows: [{ id: 'a', definition: cut, n: 1 }, { id: 'b' }, cut, { id: 'c', definition: cut }], total: 3 };
    const asText = {
      flows: [{ id: 'a', definition: new RawJson(page), n: 1 }, { id: 'b' }, new RawJson(page), { id: 'c', definition: new RawJson(page) }],
      total: 3,
    };
    expect(Array.isArray(await stringifySliced(flows))).toBe(true);
    expect(await sent(flows)).toBe(stringify(asText));
    expect(await sent([cut, cut])).toBe(`[${page},${page}]`);
    // An item with bytes, raw text, nested values and members JSON leaves out, serialized in one go and cut at its bytes.
    const raw = new RawJson('{"r": "\\u0000"}');
    const item = { definition: cut, a: undefined, input: raw, nested: { list: [raw, 1], when: new Date(0) }, f: () => 1, again: cut, last: 'x' };
    const itemAsText = { ...item, definition: new RawJson(page), again: new RawJson(page) };
    expect(Array.isArray(await stringifySliced({ flows: [item] }))).toBe(true);
    expect(await sent({ flows: [item, item], total: 2 })).toBe(stringify({ flows: [itemAsText, itemAsText], total: 2 }));
    expect(await sent({ flows: [{ definition: cut }, {}] })).toBe(`{"flows":[{"definition":${page}},{}]}`);
    // Deeper inside such an item, bytes as well, each in its place.
    const deeper = { flows: [{ definition: cut, deeper: { list: [cut, 2] } }] };
    expect(await sent(deeper)).toBe(`{"flows":[{"definition":${page},"deeper":{"list":[${page},2]}}]}`);
    // Anywhere else, or serialized by anything else, it is its value.
    expect(stringify({ a: [cut] })).toBe(`{"a":[${page}]}`);
    expect(JSON.parse(JSON.stringify({ a: cut }))).toEqual({ a: JSON.parse(page) });
  });

  // Counts turns of the event loop (a setImmediate chain: one tick per turn) until `work` is done.
  const turnsOf = async (work: Promise<unknown>): Promise<number> => {
    let turns = 0;
    let done = false;
    const tick = () => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    await work.finally(() => (done = true));
    return turns;
  };

  it('work paused with nextSlice takes turns: one slice per turn of the event loop, round robin', async () => {
    const order: string[] = [];
    const job = async (name: string) => {
      for (let i = 0; i < 3; i++) {
        order.push(name);
        await nextSlice();
      }
    };
    const turns = await turnsOf(Promise.all([job('a'), job('b'), job('c')]));
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
    // Nine pauses, one resumed per turn (less the last; three setImmediate callbacks queued at once would all run in one).
    expect(turns).toBeGreaterThanOrEqual(8);
  });

  it('pages serialized at once share the slices: each turn of the event loop runs one of them', async () => {
    let now = 0;
    // Every reading of the clock is a slice later: each item is a slice of its own.
    const clock = jest.spyOn(performance, 'now').mockImplementation(() => (now += 10));
    try {
      const rows = Array.from({ length: 100 }, (_, i) => ({ i, input: new RawJson('{"a": 1}') }));
      const turns = await turnsOf(Promise.all([stringifySliced(rows), stringifySliced(rows)]));
      expect(turns).toBeGreaterThan(1.5 * rows.length);
      expect(await stringifySliced(rows)).toBe(stringify(rows));
    } finally {
      clock.mockRestore();
    }
  });
});
