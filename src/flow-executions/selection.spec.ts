import { parseSelection, selectionToWire, selectionWhere } from './selection';

const FLOW = '5C1A0E4B-0000-4000-8000-000000000001';
const ORG = '00000000-0000-4000-8000-00000000000a';

describe('the selection', () => {
  it('parses the wire shape once: the flow lower-cased, tags split at the first colon, the organization the caller’s', () => {
    const s = parseSelection(ORG, { flow_id: FLOW, tags: ['customer:acme:eu'], flow_version: [7], run_number_min: 2 });
    expect(s).toMatchObject({ flowId: FLOW.toLowerCase(), organizationId: ORG, tags: [['customer', 'acme:eu']], versions: [7], runNumberMin: 2 });
  });

  it('turns back into the wire shape with only what was set', () => {
    const wire = { flow_id: FLOW.toLowerCase(), status: ['failed' as const], tags_exclude: ['a:b'], run_number_max: 9, created_after: '2026-01-01T00:00:00Z' };
    expect(selectionToWire(parseSelection(ORG, wire))).toEqual(wire);
  });

  it('writes one condition a filter, on the flow first, never selecting deleted runs', () => {
    const params: unknown[] = [FLOW, ORG];
    const p = (v: unknown) => `$${params.push(v)}`;
    const { where, tags } = selectionWhere(
      parseSelection(ORG, {
        flow_id: FLOW,
        status: ['failed'],
        flow_version: [1, 2],
        run_number_min: 5,
        run_number_max: 9,
        tags: ['a:b'],
        tags_exclude: ['c:d'],
      }),
      p,
    );
    expect(where.slice(0, 2)).toEqual(['fe.flow_id = $1', "fe.status <> 'deleted'"]);
    expect(where.slice(2, 6)).toEqual(['fe.status = ANY($3)', 'fe.flow_version = ANY($4::int[])', 'fe.run_number >= $5::int', 'fe.run_number <= $6::int']);
    expect(where[6]).toMatch(/^NOT \(EXISTS/);
    expect(tags).toEqual([['$7', '$8']]);
    expect(where[6]).toContain('t.tag_type = $9 AND t.tag = $10');
    expect(params).toEqual([FLOW, ORG, ['failed'], [1, 2], 5, 9, 'a', 'b', 'c', 'd']);
  });
});
