import { canonical } from '../validation/canonical';
import { fingerprint } from './idempotent-requests';

describe('idempotency fingerprint', () => {
  const req = (over: Partial<{ method: string; path: string; originalUrl: string; body: unknown }> = {}) => ({
    method: 'POST',
    path: '/api/flow-executions',
    originalUrl: '/api/flow-executions?b=2&a=1',
    body: { flow_id: 'f', input: { x: [1, { b: 2, a: 1 }] } },
    ...over,
  });

  it('ignores key order at every level and the order of query parameters', () => {
    expect(canonical({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
    const same = req({ originalUrl: '/api/flow-executions?a=1&b=2', body: { input: { x: [1, { a: 1, b: 2 }] }, flow_id: 'f' } });
    expect(fingerprint(same)).toBe(fingerprint(req()));
  });

  it('tells apart the method, the path, the query, the body and array order', () => {
    const base = fingerprint(req());
    for (const other of [
      req({ method: 'PUT' }),
      req({ path: '/api/task-executions' }),
      req({ originalUrl: '/api/flow-executions?a=1&b=3' }),
      req({ body: { flow_id: 'f', input: { x: [{ b: 2, a: 1 }, 1] } } }),
      req({ body: undefined }),
    ]) {
      expect(fingerprint(other)).not.toBe(base);
    }
  });
});
