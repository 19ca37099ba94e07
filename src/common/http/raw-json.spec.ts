import { RawJson, stringify, stringifySliced } from './raw-json';

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

  it('a RawJson serialized by JSON.stringify gives the value it holds', () => {
    expect(JSON.parse(JSON.stringify(value))).toEqual(JSON.parse(JSON.stringify(parsed)));
  });

  it('the sliced serialization gives the same text as the one-go one, for long arrays and pages', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({ ...value, i }));
    expect(await stringifySliced(rows)).toBe(stringify(rows));
    expect(await stringifySliced({ task_executions: rows, more: false })).toBe(stringify({ task_executions: rows, more: false }));
  });
});
