import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats';
import { compileTenantSchema, patternProblem, ValidationBudgetExceeded, VALIDATION_BUDGET } from './json-schema';

const keywords = (errors: { keyword: string }[]) => errors.map((e) => e.keyword);

describe('compileTenantSchema', () => {
  describe('patterns run on RE2', () => {
    it('checks a pattern that backtracks exponentially in a JavaScript RegExp, in one pass', () => {
      const validate = compileTenantSchema({ type: 'string', pattern: '^(a|a)*$' });
      // /^(a|a)*$/ on 40 a's and a '!' would run for hours.
      expect(keywords(validate('a'.repeat(40) + '!'))).toEqual(['pattern']);
      expect(validate('a'.repeat(40))).toEqual([]);
    });

    it('applies patternProperties and propertyNames patterns the same way', () => {
      const validate = compileTenantSchema({
        type: 'object',
        patternProperties: { '^(x|x)*$': { type: 'integer' } },
        propertyNames: { pattern: '^(x|x)*y?$' },
      });
      expect(validate({ xxxx: 1 })).toEqual([]);
      expect(keywords(validate({ xxxx: 'one' }))).toEqual(['type']);
      expect(keywords(validate({ ['x'.repeat(40) + '!']: 1 }))).toEqual(['pattern', 'propertyNames']);
    });

    it('keeps the ECMAScript meaning of common patterns', () => {
      const validate = compileTenantSchema({ type: 'string', pattern: '^(?<user>[\\w.+-]+)@\\p{L}+\\.[a-z]{2,}$' });
      expect(validate('a.b+c@exämple.com')).toEqual([]);
      expect(keywords(validate('a@b'))).toEqual(['pattern']);
    });

    it('refuses what RE2 cannot run, and patterns over their bounds', () => {
      expect(patternProblem('(?=a)a')).toMatch(/^Pattern is not supported/);
      expect(patternProblem('(a)\\1')).toMatch(/^Pattern is not supported/);
      expect(patternProblem('x'.repeat(1001))).toMatch(/^Pattern is too long/);
      expect(patternProblem('[a-z]{500}[0-9]{500}')).toMatch(/^Pattern is too complex/);
      expect(() => compileTenantSchema({ pattern: '(?<!a)b' })).toThrow(/pattern: Pattern is not supported/);
    });

    it('counts pattern work against the budget of the request', () => {
      const validate = compileTenantSchema({ type: 'array', items: { type: 'string', pattern: '^(a|b)*a(a|b){20}$' } });
      const text = 'ab'.repeat(500) + 'a'.repeat(21);
      expect(validate([text])).toEqual([]);
      expect(() => validate(Array.from({ length: 50 }, () => text))).toThrow(ValidationBudgetExceeded);
    });
  });

  describe('uniqueItems', () => {
    const ajv = new Ajv2020({ allErrors: true });
    const reference = ajv.compile({ type: 'array', uniqueItems: true });
    const validate = compileTenantSchema({ type: 'array', uniqueItems: true });

    it('judges as Ajv does: deep equality, key order ignored', () => {
      const cases: unknown[][] = [
        [1, 2, 3],
        [1, '1'],
        [1, 1.0],
        [
          { a: 1, b: [1, { c: 2 }] },
          { b: [1, { c: 2 }], a: 1 },
        ],
        [{ a: 1 }, { a: 2 }],
        [
          [1, 2],
          [2, 1],
        ],
        [null, 'null'],
        [true, 'true', 1],
        [{}, []],
        [{ a: null }, {}],
      ];
      for (const items of cases) expect(validate(items).length === 0).toBe(reference(items));
    });

    it('names the two identical items', () => {
      expect(validate([{ a: 1 }, 2, { a: 1 }])).toEqual([
        expect.objectContaining({ keyword: 'uniqueItems', params: { i: 0, j: 2 }, message: 'must NOT have duplicate items (items ## 2 and 0 are identical)' }),
      ]);
    });

    it('hashes instead of comparing every pair of objects', () => {
      // 20,000 distinct objects: Ajv compares 200 million pairs (seconds); a hash per item is milliseconds.
      const items = Array.from({ length: 20_000 }, (_, i) => ({ id: i, tags: ['a', 'b'] }));
      expect(validate(items)).toEqual([]);
      expect(keywords(validate([...items, { tags: ['a', 'b'], id: 7 }]))).toEqual(['uniqueItems']);
    });
  });

  describe('formats', () => {
    const url = compileTenantSchema({ type: 'string', format: 'url' });
    const original = fullFormats.url as RegExp;

    it('url accepts and refuses what ajv-formats does', () => {
      for (const value of [
        'http://example.com',
        'https://u:p@example.com:8080/a?b#c',
        'http://a/b@c.com',
        'ftp://x@y@example.org',
        'http://10.0.0.1/',
        'http://localhost',
        'http://:@example.com',
        'http:// x.com',
        'mailto:a@b.c',
      ]) {
        expect(url(value).length === 0).toBe(original.test(value));
      }
    });

    it('url is linear where ajv-formats backtracks (seconds on 100,000 colons)', () => {
      expect(keywords(url('http://' + ':'.repeat(100_000) + '@'))).toEqual(['format']);
    });

    it('regex means a pattern this service can run', () => {
      const regex = compileTenantSchema({ type: 'string', format: 'regex' });
      expect(regex('^[a-z]+$')).toEqual([]);
      expect(keywords(regex('(?=a)'))).toEqual(['format']);
      expect(keywords(regex('a'.repeat(1001)))).toEqual(['format']);
    });
  });

  describe('budget', () => {
    const doubling = (keyword: 'allOf' | 'anyOf', leaf: object) => {
      const $defs: Record<string, unknown> = { a40: leaf };
      for (let i = 0; i < 40; i++) $defs[`a${i}`] = { [keyword]: [{ $ref: `#/$defs/a${i + 1}` }, { $ref: `#/$defs/a${i + 1}` }] };
      return { $defs, $ref: '#/$defs/a0' };
    };

    it('stops a schema that applies 2^40 subschemas to one value', () => {
      expect(() => compileTenantSchema(doubling('allOf', { type: 'string' }))('x')).toThrow(new ValidationBudgetExceeded('steps'));
      expect(() => compileTenantSchema(doubling('anyOf', { type: 'number' }))('x')).toThrow(ValidationBudgetExceeded);
    });

    it('stops a schema that applies itself without end, instead of overflowing the stack', () => {
      expect(() => compileTenantSchema({ $defs: { a: { $ref: '#/$defs/a' } }, $ref: '#/$defs/a' })(1)).toThrow(new ValidationBudgetExceeded('steps'));
    });

    it('gives each value of the input its share, so large inputs of simple schemas pass', () => {
      const validate = compileTenantSchema({ type: 'array', items: { type: 'object', properties: { n: { type: 'integer' }, s: { type: 'string' } } } });
      expect(validate(Array.from({ length: 50_000 }, (_, n) => ({ n, s: 'x' })))).toEqual([]);
    });

    it('stops past too many errors, and reports the first ones below that', () => {
      const validate = compileTenantSchema({ type: 'array', items: { type: 'string' } });
      expect(validate(Array.from({ length: 500 }, () => 1))).toHaveLength(VALIDATION_BUDGET.reported);
      expect(() => validate(Array.from({ length: VALIDATION_BUDGET.errors + 1 }, () => 1))).toThrow(new ValidationBudgetExceeded('errors'));
    });
  });

  it('leaves data keywords alone: const, enum and default still compare as written', () => {
    const validate = compileTenantSchema({ properties: { a: { const: { x: [1, { y: 2 }] } }, b: { enum: [{ z: 1 }] }, c: { default: { q: 1 } } } });
    expect(validate({ a: { x: [1, { y: 2 }] }, b: { z: 1 } })).toEqual([]);
    expect(keywords(validate({ a: { x: [1] }, b: { z: 2 } }))).toEqual(['const', 'enum']);
  });

  it('compiles each schema on its own: an $id of one is unknown to the next', () => {
    compileTenantSchema({ $id: 'https://example.com/one', type: 'string' });
    expect(() => compileTenantSchema({ $ref: 'https://example.com/one' })).toThrow(/can't resolve reference/);
  });

  it('refuses an invalid schema as Ajv does', () => {
    expect(() => compileTenantSchema({ type: 'integr' })).toThrow(/^schema is invalid/);
    expect(addFormats(new Ajv2020()).validateSchema({ type: 'integr' })).toBe(false);
  });
});
