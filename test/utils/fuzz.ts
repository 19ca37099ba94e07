import fc from 'fast-check';
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { request as httpRequest, Agent } from 'node:http';

/** The parts of an OpenAPI 3.x document the fuzzer reads. */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  example?: unknown;
  default?: unknown;
}
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}
export interface OperationObject {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
  components: { schemas: Record<string, Schema> };
}
export interface Operation {
  method: string;
  path: string;
  op: OperationObject;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

export function operationsOf(doc: OpenApiDocument): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ method, path, op })),
  );
}

/** Ids the fixtures made, by kind, in the caller's organization and in another one. */
export interface IdPools {
  own: Record<string, string[]>;
  foreign: Record<string, string[]>;
  /** Values that make a request valid where a schema alone cannot (a flow definition, task names). */
  hints: Record<string, unknown[]>;
  /** Maps an id's parameter or field name to its kind (`flow_id` → `flow`). */
  kindOf(name: string): string | undefined;
}

/** One generated request, with what was broken in it. */
export interface FuzzRequest {
  method: string;
  template: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  role: string | null;
  broken: string;
  foreign: boolean;
}

// A raw JSON number the serializer writes as is (JSON.stringify cannot write 1e400).
class RawNumber {
  constructor(readonly text: string) {}
  toJSON() {
    return `\u0001RAW${this.text}\u0001`;
  }
}

function serialize(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0001RAW([^"\\]*)\\u0001"/g, '$1');
}

const FORMATS_DATE = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
const UUIDS = fc.uuid();

const NASTY_STRING: fc.Arbitrary<string> = fc.oneof(
  fc.string({
    unit: fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\u2028', '\ud800', '\udfff', '\ufeff', 'a', 'é', '😀', '"', '\\', '%'),
    minLength: 1,
    maxLength: 12,
  }),
  fc.constantFrom(
    '',
    ' ',
    'null',
    'true',
    '0',
    '-1',
    '1e400',
    'NaN',
    '%00',
    '../../etc/passwd',
    "' OR 1=1 --",
    '<script>alert(1)</script>',
    '{{x}}',
    'a:b',
    ':',
    'key:',
  ),
  fc.integer({ min: 256, max: 200_000 }).map((n) => 'a'.repeat(n)),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const MALFORMED_ID = fc.oneof(
  fc.constantFrom(
    'not-a-uuid',
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '1',
    '-1',
    '%',
    'null',
    'undefined',
    '{}',
    '[]',
    'x'.repeat(300),
  ),
  UUIDS.map((u) => u.toUpperCase()),
  UUIDS.map((u) => `${u}x`),
  UUIDS.map((u) => `{${u}}`),
  UUIDS.map((u) => u.replace(/-/g, '')),
);
const NASTY_NUMBER = fc.constantFrom<unknown>(
  new RawNumber('1e400'),
  new RawNumber('-1e400'),
  new RawNumber('1e-400'),
  new RawNumber('123456789012345678901234567890'),
  1e308,
  -1e308,
  5e-324,
  2 ** 31,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 53 + 2,
  2 ** 63,
  1.5,
  -1,
  0,
);
const WRONG_TYPE = fc.constantFrom<unknown>(null, true, false, 0, 1.5, '', 'text', [], [1, 'a'], {}, { a: 1 });
const DEEP = fc.integer({ min: 20, max: 80 }).map((depth) => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
});
const WIDE = fc.integer({ min: 100, max: 3000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
const LONG_ARRAY = fc.integer({ min: 100, max: 5000 }).map((n) => Array.from({ length: n }, (_, i) => `v${i}`));
const NASTY_KEY = fc.oneof(
  NASTY_STRING.filter((s) => s.length < 1000),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
);
// Appended to a value that is otherwise valid, or used as a key, so that the request gets as far as storing it.
const TAINT = fc.oneof(
  fc.constantFrom('\u0000', '\ud800', '\udc00', 'a\u0000b', '\u0001', '\u001f', '\u007f', '\ufffe', '\ud83d'),
  fc.string({ unit: fc.constantFrom('\u0000', '\ud800', '\udfff', '\u0007', 'x'), minLength: 1, maxLength: 6 }),
);
const NASTY_VALUE: fc.Arbitrary<unknown> = fc.oneof(NASTY_STRING, NASTY_NUMBER, WRONG_TYPE, DEEP, WIDE, LONG_ARRAY, MALFORMED_ID);

/** Generates values from the document's schemas, with the fixtures' ids where a field names one. */
export class Generator {
  constructor(
    private readonly doc: OpenApiDocument,
    private readonly pools: IdPools,
  ) {}

  resolve(schema: Schema | undefined): Schema {
    let current = schema ?? {};
    for (let i = 0; current.$ref && i < 20; i++) {
      const ref: string = current.$ref;
      current = { ...this.doc.components.schemas[ref.replace('#/components/schemas/', '')], ...(current.nullable ? { nullable: true } : {}) };
    }
    if (current.allOf) {
      const parts = current.allOf.map((part) => this.resolve(part));
      current = parts.reduce<Schema>(
        (merged, part) => ({
          ...merged,
          ...part,
          properties: { ...merged.properties, ...part.properties },
          required: [...(merged.required ?? []), ...(part.required ?? [])],
        }),
        { ...current, allOf: undefined },
      );
    }
    return current;
  }

  /** An id for a field or parameter named `name`: mostly the caller's, sometimes another organization's or an unknown one. */
  id(name: string): fc.Arbitrary<string> {
    const kind = this.pools.kindOf(name);
    const own = kind ? (this.pools.own[kind] ?? []) : [];
    const foreign = kind ? (this.pools.foreign[kind] ?? []) : [];
    const choices: fc.WeightedArbitrary<string>[] = [{ weight: 2, arbitrary: UUIDS }];
    if (own.length) choices.push({ weight: 12, arbitrary: fc.constantFrom(...own) });
    if (foreign.length) choices.push({ weight: 3, arbitrary: fc.constantFrom(...foreign) });
    return fc.oneof(...choices);
  }

  value(schemaIn: Schema | undefined, name: string, depth = 0): fc.Arbitrary<unknown> {
    const schema = this.resolve(schemaIn);
    const base = this.nonNull(schema, name, depth);
    const hinted = this.pools.hints[name];
    const withHint = hinted ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...hinted) }, { weight: 1, arbitrary: base }) : base;
    return schema.nullable ? fc.option(withHint, { nil: null, freq: 6 }) : withHint;
  }

  private nonNull(schema: Schema, name: string, depth: number): fc.Arbitrary<unknown> {
    if (schema.oneOf || schema.anyOf) return fc.oneof(...(schema.oneOf ?? schema.anyOf)!.map((s) => this.value(s, name, depth)));
    if (schema.enum) return fc.constantFrom(...schema.enum.filter((v) => v !== null));
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
    switch (type) {
      case 'string':
        return this.string(schema, name);
      case 'integer':
        return fc.oneof(
          {
            weight: 3,
            arbitrary: fc.integer({ min: Math.max(schema.minimum ?? 0, -10), max: Math.min(schema.maximum ?? 10, Math.max(schema.minimum ?? 0, -10) + 10) }),
          },
          { weight: 1, arbitrary: fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 }) },
        );
      case 'number':
        return fc.double({ noNaN: true, noDefaultInfinity: true, min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6 });
      case 'boolean':
        return fc.boolean();
      case 'array':
        return fc.array(this.value(schema.items, name, depth + 1), {
          minLength: schema.minItems ?? 0,
          maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3)),
        });
      case 'object':
      default:
        if (schema.properties && Object.keys(schema.properties).length > 0 && depth < 6) {
          const props = Object.fromEntries(Object.entries(schema.properties).map(([key, s]) => [key, this.value(s, key, depth + 1)]));
          return fc.record(props, { requiredKeys: (schema.required ?? []).filter((key) => key in props) });
        }
        if (type === 'object' || schema.additionalProperties) return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
        return fc.jsonValue({ maxDepth: 2 });
    }
  }

  private string(schema: Schema, name: string): fc.Arbitrary<string> {
    if (schema.format === 'uuid' || this.pools.kindOf(name)) return this.id(name);
    if (schema.format === 'date-time') return FORMATS_DATE;
    const min = schema.minLength ?? 0;
    const max = Math.max(min, Math.min(schema.maxLength ?? 24, 24));
    const plain = fc.string({ minLength: min, maxLength: max });
    if (!schema.pattern) return schema.example === undefined ? plain : fc.oneof(fc.constant(String(schema.example)), plain);
    const pattern = new RegExp(schema.pattern);
    const candidates = ['key:value', 'priority:high', 'customer:acme', 'a', 'abc-1', '1', 'x_y'].filter((c) => pattern.test(c));
    return candidates.length ? fc.constantFrom(...candidates) : plain;
  }
}

/** Percent-encodes every code unit, lone surrogates as the bytes UTF-8 would give them (WTF-8), so any string can travel. */
export function encodeAny(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    const next = value.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(value[i] + value[i + 1]);
      i++;
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      out += `%${(0xe0 | (unit >> 12)).toString(16)}%${(0x80 | ((unit >> 6) & 0x3f)).toString(16)}%${(0x80 | (unit & 0x3f)).toString(16)}`.toUpperCase();
    } else out += encodeURIComponent(value[i]);
  }
  return out;
}

const HEADER_SAFE = fc.string({ unit: fc.constantFrom(...'abcXYZ019 ,;=*"/\\:-_.W'.split('')), maxLength: 40 });
const ROLES = fc.constantFrom<string | null>(
  'org_admin',
  'org_admin',
  'org_admin',
  'backoffice',
  'backoffice',
  'backoffice',
  'worker',
  'app_user',
  'publisher',
  'integration',
  null,
);

type Breakage =
  | { kind: 'none' }
  | { kind: 'param'; name: string; value: unknown }
  | { kind: 'drop-param'; name: string }
  | { kind: 'repeat-param'; name: string; values: string[] }
  | { kind: 'extra-param'; name: string; value: string }
  | { kind: 'body-field'; path: string[]; value: unknown }
  | { kind: 'drop-field'; path: string[] }
  | { kind: 'extra-field'; key: string; value: unknown }
  | { kind: 'body'; value: unknown }
  | { kind: 'raw-body'; text: string }
  | { kind: 'content-type'; value: string | null }
  | { kind: 'method'; method: string }
  | { kind: 'taint'; where: 'body' | 'query'; index: number; text: string; asKey: boolean };

/** Requests for one operation: valid ones, and ones broken in exactly one place. */
export function requestsFor(operation: Operation, generator: Generator, pools: IdPools, servedMethods: string[]): fc.Arbitrary<FuzzRequest> {
  const { method, path, op } = operation;
  const params = (op.parameters ?? []).filter((p) => p.in !== 'cookie');
  const bodySchema = op.requestBody?.content['application/json']?.schema;
  const paramValue = (p: Parameter): fc.Arbitrary<unknown> =>
    p.in === 'header'
      ? HEADER_SAFE
      : p.in === 'path' && pools.kindOf(p.name)
        ? generator.id(p.name)
        : generator.value(p.in === 'path' ? { ...generator.resolve(p.schema), minLength: Math.max(1, p.schema?.minLength ?? 0) } : p.schema, p.name);
  const paramArbs = Object.fromEntries(params.map((p) => [`${p.in}:${p.name}`, paramValue(p)]));
  const valid = fc.record({
    params: fc.record(paramArbs, { requiredKeys: params.filter((p) => p.required).map((p) => `${p.in}:${p.name}`) }),
    body: bodySchema ? generator.value(bodySchema, 'body') : fc.constant(undefined),
    role: ROLES,
  });

  const bodyPaths = bodySchema ? fieldPaths(generator, bodySchema) : [];
  const breakages: fc.Arbitrary<Breakage>[] = [fc.constant<Breakage>({ kind: 'none' })];
  if (params.length) {
    const names = fc.constantFrom(...params.map((p) => `${p.in}:${p.name}`));
    // A path parameter left empty would name another route: it is broken, never dropped.
    const droppable = params.filter((p) => p.in !== 'path').map((p) => `${p.in}:${p.name}`);
    const unheadered = params.filter((p) => p.in !== 'header').map((p) => `${p.in}:${p.name}`);
    breakages.push(
      fc.record({
        kind: fc.constant('param' as const),
        name: names,
        value: fc.oneof(
          NASTY_STRING.filter((s) => s.length > 0 && s.length < 5000),
          MALFORMED_ID,
          NASTY_NUMBER.map((v) => (v instanceof RawNumber ? v.text : String(v))),
          fc.constantFrom(...foreignAndOwnIds(pools)),
        ),
      }),
    );
    if (droppable.length) breakages.push(fc.record({ kind: fc.constant('drop-param' as const), name: fc.constantFrom(...droppable) }));
    if (unheadered.length) {
      breakages.push(
        fc.record({
          kind: fc.constant('repeat-param' as const),
          name: fc.constantFrom(...unheadered),
          values: fc.array(
            NASTY_STRING.filter((s) => s.length < 200),
            { minLength: 2, maxLength: 30 },
          ),
        }),
      );
    }
  }
  breakages.push(
    fc.record({ kind: fc.constant('extra-param' as const), name: NASTY_KEY.filter((s) => s.length < 200), value: NASTY_STRING.filter((s) => s.length < 200) }),
  );
  const otherMethods = METHODS.filter((m) => !servedMethods.includes(m));
  if (otherMethods.length) breakages.push(fc.record({ kind: fc.constant('method' as const), method: fc.constantFrom(...otherMethods) }));
  const taint = (where: 'body' | 'query') =>
    fc.record({ kind: fc.constant('taint' as const), where: fc.constant(where), index: fc.nat(), text: TAINT, asKey: fc.boolean() });
  if (params.some((p) => p.in === 'query')) breakages.push(taint('query'));
  if (bodySchema) {
    breakages.push(taint('body'), taint('body'));
    if (bodyPaths.length) {
      const paths = fc.constantFrom(...bodyPaths);
      breakages.push(
        fc.record({ kind: fc.constant('body-field' as const), path: paths, value: NASTY_VALUE }),
        fc.record({ kind: fc.constant('body-field' as const), path: paths, value: fc.constantFrom(...foreignAndOwnIds(pools)) }),
        fc.record({ kind: fc.constant('drop-field' as const), path: paths }),
      );
    }
    breakages.push(
      fc.record({ kind: fc.constant('extra-field' as const), key: NASTY_KEY, value: NASTY_VALUE }),
      fc.record({ kind: fc.constant('body' as const), value: NASTY_VALUE }),
      fc.record({
        kind: fc.constant('raw-body' as const),
        text: fc.constantFrom(
          '{',
          '{"a":',
          '[1,]',
          'nul',
          '"',
          '\ufeff{}',
          '{"a":1}{"b":2}',
          '',
          ' ',
          '{"a":"\\ud800"}',
          '{"a":"\\u0000"}',
          '{"__proto__":{"x":1}}',
        ),
      }),
      fc.record({
        kind: fc.constant('content-type' as const),
        value: fc.constantFrom<string | null>(
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/xml',
          'multipart/form-data; boundary=x',
          'application/json; charset=utf-16',
          'application/vnd.api+json',
          null,
        ),
      }),
    );
  }

  return fc
    .tuple(valid, fc.oneof({ weight: 2, arbitrary: fc.constant<Breakage>({ kind: 'none' }) }, { weight: 5, arbitrary: fc.oneof(...breakages) }))
    .map(([v, breakage]) => build(method, path, params, v.params as Record<string, unknown>, v.body, v.role, breakage, pools));
}

function foreignAndOwnIds(pools: IdPools): string[] {
  return [...Object.values(pools.foreign).flat(), ...Object.values(pools.own).flat()];
}

/** Paths of the body's declared fields, two levels deep, for breaking one of them. */
function fieldPaths(generator: Generator, schema: Schema, prefix: string[] = [], depth = 0): string[][] {
  const resolved = generator.resolve(schema);
  const target = resolved.type === 'array' && resolved.items ? generator.resolve(resolved.items) : resolved;
  const step = resolved.type === 'array' ? ['0'] : [];
  return Object.entries(target.properties ?? {}).flatMap(([key, child]) => {
    const path = [...prefix, ...step, key];
    return depth < 2 ? [path, ...fieldPaths(generator, child, path, depth + 1)] : [path];
  });
}

function build(
  method: string,
  template: string,
  params: Parameter[],
  values: Record<string, unknown>,
  body: unknown,
  role: string | null,
  breakage: Breakage,
  pools: IdPools,
): FuzzRequest {
  const headers: Record<string, string> = {};
  const query: [string, string][] = [];
  let url = template;
  let rawBody: string | undefined;
  let contentType: string | null = 'application/json';
  const apply = { ...values };
  if (breakage.kind === 'param') apply[breakage.name] = breakage.value;
  if (breakage.kind === 'drop-param') delete apply[breakage.name];

  if (breakage.kind === 'taint' && breakage.where === 'query') {
    const present = params.filter((p) => p.in === 'query' && apply[`query:${p.name}`] !== undefined);
    if (present.length) {
      const key = `query:${present[breakage.index % present.length].name}`;
      const value = apply[key];
      apply[key] = Array.isArray(value) ? [...value.slice(1), `${value[0] ?? ''}${breakage.text}`] : `${String(value)}${breakage.text}`;
    }
  }

  for (const p of params) {
    const key = `${p.in}:${p.name}`;
    const value = apply[key];
    if (value === undefined) continue;
    if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeAny(String(value)));
    else if (p.in === 'header') headers[p.name] = String(value).replace(/[^\x20-\x7e]/g, '');
    else if (breakage.kind === 'repeat-param' && breakage.name === key) for (const v of breakage.values) query.push([p.name, v]);
    else if (Array.isArray(value)) for (const v of value) query.push([p.name, String(v)]);
    else query.push([p.name, typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)]);
  }
  if (breakage.kind === 'extra-param') query.push([breakage.name, breakage.value]);
  if (query.length) url += `?${query.map(([k, v]) => `${encodeAny(k)}=${encodeAny(v)}`).join('&')}`;

  let method2 = method;
  if (breakage.kind === 'method') method2 = breakage.method;
  let sent = body;
  if (sent !== undefined || breakage.kind === 'body' || breakage.kind === 'extra-field') {
    sent = structuredClone(sent ?? {});
    if (breakage.kind === 'body-field') sent = setAt(sent, breakage.path, breakage.value);
    if (breakage.kind === 'drop-field') sent = setAt(sent, breakage.path, undefined);
    if (breakage.kind === 'extra-field' && sent && typeof sent === 'object' && !Array.isArray(sent)) {
      Object.defineProperty(sent, breakage.key, { value: breakage.value, enumerable: true, configurable: true, writable: true });
    }
    if (breakage.kind === 'body') sent = breakage.value;
    if (breakage.kind === 'taint' && breakage.where === 'body') taintAt(sent, breakage.index, breakage.text, breakage.asKey);
    rawBody = breakage.kind === 'raw-body' ? breakage.text : serialize(sent);
    if (breakage.kind === 'content-type') contentType = breakage.value;
    if (contentType) headers['Content-Type'] = contentType;
  }
  // Another organization's id where the API reads an id: a path parameter, or a parameter or field named like one.
  const foreignSet = new Set(foreignIds(pools));
  const isForeign = (value: unknown): boolean => (Array.isArray(value) ? value.some(isForeign) : typeof value === 'string' && foreignSet.has(value));
  const foreign =
    params.some((p) => (p.in === 'path' || pools.kindOf(p.name)) && isForeign(apply[`${p.in}:${p.name}`])) ||
    (breakage.kind !== 'raw-body' && hasForeignField(sent, pools, isForeign));
  return { method: method2.toUpperCase(), template, url, headers, body: rawBody, role, broken: describe(breakage), foreign };
}

function hasForeignField(node: unknown, pools: IdPools, isForeign: (value: unknown) => boolean): boolean {
  if (Array.isArray(node)) return node.some((item) => hasForeignField(item, pools, isForeign));
  if (node === null || typeof node !== 'object') return false;
  return Object.entries(node).some(([key, value]) => (pools.kindOf(key) && isForeign(value)) || hasForeignField(value, pools, isForeign));
}

function foreignIds(pools: IdPools): string[] {
  return Object.values(pools.foreign).flat();
}

/** Appends `text` to one string of the body (or adds it as a key of one object), wherever it is, free-form parts included. */
function taintAt(root: unknown, index: number, text: string, asKey: boolean): void {
  const spots: { holder: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const objects: Record<string, unknown>[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach((item, i) => (typeof item === 'string' ? spots.push({ holder: node, key: i }) : walk(item)));
    else if (node !== null && typeof node === 'object') {
      objects.push(node as Record<string, unknown>);
      for (const [key, value] of Object.entries(node)) {
        if (typeof value === 'string') spots.push({ holder: node as Record<string, unknown>, key });
        else walk(value);
      }
    }
  };
  walk(root);
  if (asKey && objects.length) {
    objects[index % objects.length][`k${text}`] = 'x';
  } else if (spots.length) {
    const { holder, key } = spots[index % spots.length];
    (holder as Record<string | number, unknown>)[key] = `${(holder as Record<string | number, unknown>)[key]}${text}`;
  }
}

function setAt(root: unknown, path: string[], value: unknown): unknown {
  if (root === null || typeof root !== 'object') return root;
  let node = root as Record<string, unknown>;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object') return root;
    node = next as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
  return root;
}

function describe(breakage: Breakage): string {
  const short = (v: unknown) => {
    const s = v instanceof RawNumber ? v.text : (JSON.stringify(v) ?? String(v));
    return s.length > 80 ? `${s.slice(0, 80)}… (${s.length} chars)` : s;
  };
  switch (breakage.kind) {
    case 'none':
      return 'valid';
    case 'param':
      return `parameter ${breakage.name} = ${short(breakage.value)}`;
    case 'drop-param':
      return `parameter ${breakage.name} left out`;
    case 'repeat-param':
      return `parameter ${breakage.name} repeated ${breakage.values.length} times`;
    case 'extra-param':
      return `unknown parameter ${short(breakage.name)}`;
    case 'body-field':
      return `body field ${breakage.path.join('.')} = ${short(breakage.value)}`;
    case 'drop-field':
      return `body field ${breakage.path.join('.')} left out`;
    case 'extra-field':
      return `unknown body field ${short(breakage.key)}`;
    case 'body':
      return `body = ${short(breakage.value)}`;
    case 'raw-body':
      return `raw body ${short(breakage.text)}`;
    case 'content-type':
      return `Content-Type ${short(breakage.value)}`;
    case 'method':
      return `method ${breakage.method.toUpperCase()}`;
    case 'taint':
      return `${short(breakage.text)} ${breakage.asKey ? 'as a key' : 'appended to a value'} in the ${breakage.where}`;
  }
}

export interface FuzzResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** Plain node:http, so the request goes out exactly as built. */
export function send(port: number, req: FuzzRequest, auth: Record<string, string>): Promise<FuzzResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.url,
        agent,
        headers: { ...req.headers, ...auth, ...(req.body !== undefined ? { 'Content-Length': Buffer.byteLength(req.body) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

export function closeAgent(): void {
  agent.destroy();
}

/** Validates bodies against the document's response schemas (OpenAPI 3.0 `nullable` read as JSON Schema's null type). */
export class ResponseValidator {
  private readonly ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(doc: OpenApiDocument) {
    this.ajv.addSchema({ $id: 'doc', components: toJsonSchema(doc.components) });
  }

  /** Null when it validates, else the reason. */
  check(op: Operation, status: number, body: unknown): string | null {
    const response = op.op.responses[String(status)];
    if (!response) return `status ${status} is not documented for ${op.method.toUpperCase()} ${op.path}`;
    const schema = response.content?.['application/json']?.schema;
    if (!schema) return null;
    const key = `${op.method} ${op.path} ${status}`;
    let validate = this.cache.get(key);
    if (!validate) {
      validate = this.ajv.compile(JSON.parse(JSON.stringify(toJsonSchema(schema)).replace(/"#\/components\//g, '"doc#/components/')));
      this.cache.set(key, validate);
    }
    return validate(body) ? null : this.ajv.errorsText(validate.errors);
  }
}

function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = key === 'example' || key === 'enum' ? value : toJsonSchema(value);
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    if (out.$ref || out.allOf || out.oneOf || out.anyOf) return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}
