import { parseTraceContext, parseTraceparent, parseTracestate, traceHeaders } from './trace-context';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`;

describe('parseTraceparent', () => {
  it('keeps a valid version 00 header as it is', () => {
    expect(parseTraceparent(VALID)).toBe(VALID);
    expect(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-00`)).toBe(`00-${TRACE_ID}-${PARENT_ID}-00`);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['several headers', [VALID, VALID]],
    ['uppercase hex', VALID.toUpperCase()],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${PARENT_ID}-01`],
    ['an all-zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['version 00 with more fields', `${VALID}-extra`],
    ['a short trace id', `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`],
    ['a missing flags field', `00-${TRACE_ID}-${PARENT_ID}`],
    ['non-hex characters', `00-${TRACE_ID.slice(0, 31)}g-${PARENT_ID}-01`],
    ['spaces around', ` ${VALID} `],
    ['a higher version followed by other than a dash', `01-${TRACE_ID}-${PARENT_ID}-01x`],
  ])('ignores %s', (_, header) => {
    expect(parseTraceparent(header)).toBeNull();
  });

  it('reads the known fields of a higher version and keeps them as version 00', () => {
    expect(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01`)).toBe(VALID);
    expect(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-what-comes-next`)).toBe(VALID);
  });
});

describe('parseTracestate', () => {
  it('keeps valid members, dropping empty ones and the spaces around them', () => {
    expect(parseTracestate('congo=t61rcWkgMzE, rojo=00f067aa0ba902b7')).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(parseTracestate(' ,\ttenant1@vendor=a b ,,')).toBe('tenant1@vendor=a b');
    expect(parseTracestate('t1@1sys=x')).toBeNull();
    expect(parseTracestate(['a=1', 'b=2'])).toBe('a=1,b=2');
    expect(parseTracestate('')).toBeNull();
    expect(parseTracestate(' , ')).toBeNull();
  });

  it.each([
    ['a member without =', 'a=1,b'],
    ['a key starting with a digit', '1a=1'],
    ['an uppercase key', 'A=1'],
    ['a duplicate key', 'a=1,b=2,a=3'],
    ['a value with =', 'a=b=c'],
    ['a value too long', `a=${'x'.repeat(257)}`],
    ['a key too long', `${'k'.repeat(257)}=1`],
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
  ])('discards the whole header with %s', (_, header) => {
    expect(parseTracestate(header)).toBeNull();
  });

  it('keeps 32 members', () => {
    const members = Array.from({ length: 32 }, (_, i) => `k${i}=v`);
    expect(parseTracestate(members.join(','))).toBe(members.join(','));
  });

  it('truncates past 512 characters: members over 128 characters first, then from the end', () => {
    const long = `long=${'x'.repeat(200)}`;
    const short = Array.from({ length: 10 }, (_, i) => `s${i}=${'y'.repeat(40)}`); // 10 × 43 + commas = 439
    expect(parseTracestate([long, ...short].join(','))).toBe(short.join(','));
    const many = Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(2, '0')}=${'z'.repeat(40)}`); // 44 each
    const kept = parseTracestate(many.join(','))!;
    expect(kept.length).toBeLessThanOrEqual(512);
    expect(kept).toBe(many.slice(0, 11).join(','));
  });

  it('stays linear on long runs of spaces', () => {
    expect(parseTracestate(`a=1,${' '.repeat(100_000)}x`)).toBeNull();
    expect(parseTracestate(`a=1,${' '.repeat(100_000)}`)).toBe('a=1');
  });
});

describe('parseTraceContext and traceHeaders', () => {
  it('reads tracestate only beside a valid traceparent', () => {
    expect(parseTraceContext(VALID, 'a=1')).toEqual({ traceparent: VALID, tracestate: 'a=1' });
    expect(parseTraceContext(VALID, 'A=1')).toEqual({ traceparent: VALID, tracestate: null });
    expect(parseTraceContext('garbage', 'a=1')).toBeNull();
  });

  it('sends headers only for a run with a trace', () => {
    expect(traceHeaders({ traceparent: null, tracestate: null })).toEqual({});
    expect(traceHeaders({ traceparent: VALID, tracestate: null })).toEqual({ traceparent: VALID });
    expect(traceHeaders({ traceparent: VALID, tracestate: 'a=1' })).toEqual({ traceparent: VALID, tracestate: 'a=1' });
  });
});
