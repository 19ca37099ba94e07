import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import { _ } from 'ajv';
import names from 'ajv/dist/compile/names';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats';
import { RE2JS } from 're2js';
import { canonical } from './canonical';

/**
 * Tenants' JSON Schemas (flow input schemas, webhook_receiver fields), compiled so that checking one
 * request costs time linear in its size: patterns run on RE2 (no backtracking), uniqueItems hashes,
 * and every subschema applied to a value counts against a budget. The bounds: docs/api.md#bounds.
 */
export const SCHEMA_LIMITS = {
  /** JSON text of one schema, in characters. */
  length: 65_536,
  /** Nesting of objects and arrays inside one schema. */
  depth: 32,
  /** Characters of one `pattern`, `patternProperties` key or `format: regex` string. */
  patternLength: 1_000,
  /** Instructions of one compiled pattern: what one character of input can cost. */
  patternInstructions: 1_000,
  /** Patterns in all the schemas of one definition, and their instructions together: what compiling them costs. */
  patterns: 100,
  totalInstructions: 10_000,
} as const;

export const VALIDATION_BUDGET = {
  /** Subschemas applied to values, per validation: this much plus `stepsPerValue` for each value of the input. */
  baseSteps: 10_000,
  stepsPerValue: 10,
  /** Pattern matching per validation, in characters × (instructions + 16). */
  patternWork: 500_000,
  /** Errors at once (those of failing anyOf branches included): past this, validation stops. */
  errors: 10_000,
  /** Errors reported. */
  reported: 100,
} as const;

/** A validation that would cost more than its budget. */
export class ValidationBudgetExceeded extends Error {
  constructor(readonly what: keyof typeof BUDGET_MESSAGES) {
    super(BUDGET_MESSAGES[what]);
  }
}

const BUDGET_MESSAGES = {
  steps: 'Input is too costly to check against the schema (too many subschemas applied per value)',
  patterns: 'Input is too costly to check against the patterns of the schema (too many characters matched against patterns)',
  errors: `Input has too many errors to check against the schema (more than ${VALIDATION_BUDGET.errors})`,
};

export interface SchemaValidator {
  /** The errors of `value` (the first `VALIDATION_BUDGET.reported`), `[]` when it matches; throws `ValidationBudgetExceeded`. */
  (value: unknown): ErrorObject[];
}

// Where subschemas are: JSON Schema 2020-12, and the older keywords Ajv2020 still applies.
const SUBSCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies']);
// Values that are data, never schemas: nothing inside them is walked, counted or referenced.
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples', 'required', 'dependentRequired', 'type', '$vocabulary', 'discriminator']);
const REFERENCES = ['$ref', '$dynamicRef', '$recursiveRef'];

type Loc = (string | number)[];

export interface SchemaIssue {
  loc: Loc;
  msg: string;
}

/** Patterns counted over several schemas (those of one flow definition). */
export interface PatternTally {
  patterns: number;
  instructions: number;
}

/**
 * What makes a schema too costly to keep, with where: too long or deep, a pattern RE2 cannot run
 * (backreferences, lookarounds) or too large, more patterns than `tally` has room for, a reference
 * into data (`const`, `enum`, `default`...).
 */
export function schemaLimitIssues(schema: unknown, tally: PatternTally = { patterns: 0, instructions: 0 }): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  if (jsonLength(schema, SCHEMA_LIMITS.length) > SCHEMA_LIMITS.length) {
    issues.push({ loc: [], msg: `Schema is too large (more than ${SCHEMA_LIMITS.length} characters of JSON)` });
  }
  const tooDeep = deeperThan(schema, SCHEMA_LIMITS.depth);
  if (tooDeep) issues.push({ loc: tooDeep, msg: `Schema is nested too deeply (more than ${SCHEMA_LIMITS.depth} levels)` });
  if (issues.length > 0) return issues;

  const count = (source: string, loc: Loc) => {
    let instructions = 0;
    try {
      instructions = compilePattern(source).programSize();
    } catch (error) {
      issues.push({ loc, msg: (error as Error).message });
      return;
    }
    tally.patterns++;
    tally.instructions += instructions;
    if (tally.patterns > SCHEMA_LIMITS.patterns || tally.instructions > SCHEMA_LIMITS.totalInstructions) {
      issues.push({
        loc,
        msg: `Too many patterns: a flow's schemas hold at most ${SCHEMA_LIMITS.patterns} patterns of ${SCHEMA_LIMITS.totalInstructions} RE2 instructions in all`,
      });
    }
  };
  walkSchemas(schema, (node, loc) => {
    if (issues.length >= MAX_ISSUES) return;
    if (typeof node.pattern === 'string') count(node.pattern, [...loc, 'pattern']);
    if (isRecord(node.patternProperties)) {
      for (const key of Object.keys(node.patternProperties)) count(key, [...loc, 'patternProperties', key]);
    }
    for (const keyword of REFERENCES) {
      const ref = node[keyword];
      if (typeof ref === 'string' && referencesData(ref)) {
        issues.push({ loc: [...loc, keyword], msg: `${keyword} must point to a subschema, not into ${DATA_KEYWORDS_TEXT}` });
      }
    }
  });
  return issues;
}

const DATA_KEYWORDS_TEXT = [...DATA_KEYWORDS].join(', ');
const MAX_ISSUES = 20;

/** Every schema object of `schema` (itself included) with its location; iterative, in document order. */
function walkSchemas(schema: unknown, visit: (node: Record<string, unknown>, loc: Loc) => void): void {
  const pending: [unknown, Loc][] = [[schema, []]];
  while (pending.length > 0) {
    const [node, loc] = pending.pop()!;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) pending.push([node[i], [...loc, i]]);
      continue;
    }
    if (!isRecord(node)) continue;
    visit(node, loc);
    const keys = Object.keys(node);
    for (let k = keys.length - 1; k >= 0; k--) {
      const key = keys[k];
      const value = node[key];
      if (DATA_KEYWORDS.has(key) || value === null || typeof value !== 'object') continue;
      if (SUBSCHEMA_MAPS.has(key) && !Array.isArray(value)) {
        const names = Object.keys(value);
        for (let n = names.length - 1; n >= 0; n--) pending.push([(value as Record<string, unknown>)[names[n]], [...loc, key, names[n]]]);
      } else {
        // A schema, a list of schemas, or an unknown keyword: whatever it holds may be the target of a $ref.
        pending.push([value, [...loc, key]]);
      }
    }
  }
}

/** A `$ref` whose JSON pointer goes into a data keyword: Ajv would compile data as a schema, uncounted. */
function referencesData(ref: string): boolean {
  const hash = ref.indexOf('#');
  if (hash < 0 || ref[hash + 1] !== '/') return false;
  let name = false; // the next segment names a member of a subschema map
  for (const raw of ref.slice(hash + 2).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return true;
    }
    if (name) name = false;
    else if (DATA_KEYWORDS.has(segment)) return true;
    else if (SUBSCHEMA_MAPS.has(segment)) name = true;
  }
  return false;
}

/** Why `source` cannot be a tenant's pattern, or null. */
export function patternProblem(source: string): string | null {
  try {
    compilePattern(source);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

// Compiled patterns by source: a flow's patterns are compiled when it is checked and again for its validator.
const compiledPatterns = new Map<string, RE2JS | Error>();
const COMPILED_PATTERNS = 1_000;

/** `source` (ECMAScript syntax) compiled by RE2; throws, saying why, when it is too long, unsupported or too complex. */
function compilePattern(source: string): RE2JS {
  if (source.length > SCHEMA_LIMITS.patternLength) throw new Error(`Pattern is too long (more than ${SCHEMA_LIMITS.patternLength} characters)`);
  let compiled = compiledPatterns.get(source);
  if (compiled === undefined) {
    compiled = compileUncached(source);
    if (compiledPatterns.size >= COMPILED_PATTERNS) compiledPatterns.delete(compiledPatterns.keys().next().value as string);
  } else compiledPatterns.delete(source);
  compiledPatterns.set(source, compiled);
  if (compiled instanceof Error) throw compiled;
  return compiled;
}

function compileUncached(source: string): RE2JS | Error {
  try {
    return compileChecked(source);
  } catch (error) {
    return error as Error;
  }
}

function compileChecked(source: string): RE2JS {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(RE2JS.translateRegExp(source));
  } catch (error) {
    throw new Error(`Pattern is not supported: ${(error as Error).message} (patterns run on RE2: no backreferences or lookarounds)`);
  }
  if (compiled.programSize() > SCHEMA_LIMITS.patternInstructions) {
    throw new Error(`Pattern is too complex (${compiled.programSize()} RE2 instructions, at most ${SCHEMA_LIMITS.patternInstructions})`);
  }
  return compiled;
}

/** What Ajv calls for `pattern` and `patternProperties` (`code.regExp`): an RE2 program that counts its work. */
function tenantRegExp(source: string): { test(input: string): boolean; toString(): string } {
  const compiled = compilePattern(source);
  const weight = compiled.programSize() + 16;
  return {
    test(input: string): boolean {
      charge(patternCharge(input.length, weight));
      used?.add(compiled);
      return compiled.test(input);
    },
    toString: () => `/${source}/u`,
  };
}
tenantRegExp.code = 'tenantRegExp';

const patternCharge = (length: number, weight: number) => (length + 1) * weight;

// ajv-formats' `url` with its userinfo `\S+(?::\S*)?@` written `\S+@`: the same strings (`\S` takes ':'),
// without the split between the two that backtracks quadratically (seconds at 100 KB).
const URL_SOURCE = fullFormats.url instanceof RegExp ? fullFormats.url.source.replace('(?:\\S+(?::\\S*)?@)?', '(?:\\S+@)?') : '';
if (!URL_SOURCE.includes('(?:\\S+@)?')) throw new Error('ajv-formats changed its url format: review the linear-time rewrite');
const URL = new RegExp(URL_SOURCE, (fullFormats.url as RegExp).flags);

function regexFormat(value: string): boolean {
  charge(patternCharge(value.length, 32));
  return patternProblem(value) === null;
}

interface Budget {
  steps: number;
  stepLimit: number;
  patternWork: number;
}

// The budget of the validation running now: validation is synchronous, one at a time per process.
let budget: Budget | null = null;
let used: Set<RE2JS> | null = null;

function charge(patternWork: number): void {
  if (!budget) return;
  budget.patternWork += patternWork;
  if (budget.patternWork > VALIDATION_BUDGET.patternWork) throw new ValidationBudgetExceeded('patterns');
}

function step(errors: number): void {
  if (!budget) return;
  if (++budget.steps > budget.stepLimit) throw new ValidationBudgetExceeded('steps');
  if (errors > VALIDATION_BUDGET.errors) throw new ValidationBudgetExceeded('errors');
}

// Added to every subschema of the compiled copy: one step each time a subschema is applied to a value.
const STEP_KEYWORD = '$validationStep';

const OPTIONS = { strict: false, allErrors: true, logger: false } as const;
// Meta-schema checks only; each compile gets an Ajv of its own (an Ajv keeps everything it compiled).
const meta = addFormats(new Ajv2020(OPTIONS));

function compiler(): Ajv2020 {
  const ajv = addFormats(new Ajv2020({ ...OPTIONS, validateSchema: false, code: { regExp: tenantRegExp as never } }));
  ajv.addFormat('url', URL);
  ajv.addFormat('regex', regexFormat);
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword({ keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: true, validate: uniqueItems });
  ajv.addKeyword({
    keyword: STEP_KEYWORD,
    schemaType: 'boolean',
    code: (cxt) => cxt.gen.code(_`${cxt.gen.scopeValue('func', { ref: step })}(${names.errors})`),
  });
  return ajv;
}

/** Ajv's uniqueItems compares every pair of objects (quadratic); this hashes each item's canonical JSON. */
function uniqueItems(this: unknown, unique: boolean, data: unknown[]): boolean {
  const self = uniqueItems as unknown as { errors: Partial<ErrorObject>[] | null };
  self.errors = null;
  if (!unique) return true;
  const seen = new Map<string, number>();
  for (let i = data.length - 1; i >= 0; i--) {
    const item = data[i];
    const key = item !== null && typeof item === 'object' ? canonical(item) : `${typeof item}:${String(item)}`;
    const j = seen.get(key);
    if (j !== undefined) {
      self.errors = [{ keyword: 'uniqueItems', params: { i, j }, message: `must NOT have duplicate items (items ## ${j} and ${i} are identical)` }];
      return false;
    }
    seen.set(key, i);
  }
  return true;
}

/**
 * Compiles a tenant's JSON Schema (2020-12) into a validator with a budget; throws when the schema
 * is invalid or over the limits of `schemaLimitIssues`.
 */
export function compileTenantSchema(schema: object): SchemaValidator {
  const limits = schemaLimitIssues(schema);
  if (limits.length > 0) throw new Error(limits.map((i) => (i.loc.length ? `${i.loc.join('.')}: ${i.msg}` : i.msg)).join('; '));
  if (!meta.validateSchema(schema)) throw new Error(`schema is invalid: ${meta.errorsText(meta.errors)}`);
  const validate: ValidateFunction = compiler().compile(withSteps(schema));
  const patterns = new Set<RE2JS>();
  return (value: unknown) => {
    budget = { steps: 0, stepLimit: VALIDATION_BUDGET.baseSteps + VALIDATION_BUDGET.stepsPerValue * countValues(value), patternWork: 0 };
    used = patterns;
    try {
      return validate(value) ? [] : (validate.errors ?? []).slice(0, VALIDATION_BUDGET.reported);
    } catch (error) {
      // A schema that applies itself to the same value without end overflows the stack before the step limit.
      if (error instanceof RangeError) throw new ValidationBudgetExceeded('steps');
      throw error;
    } finally {
      budget = null;
      used = null;
      // RE2's lazy DFA keeps up to 8 MB of states per pattern; drop them so that memory stays per request.
      for (const compiled of patterns) (compiled as unknown as { re2Input?: { lazyDFA?: unknown } }).re2Input!.lazyDFA = null;
      patterns.clear();
    }
  };
}

/**
 * Whether checking a value against `schema` may run a tenant's pattern (`pattern`,
 * `patternProperties`, `format: regex`): the checks whose cost is characters times a program.
 */
export function holdsPatterns(schema: unknown): boolean {
  let found = false;
  walkSchemas(schema, (node) => {
    found ||= typeof node.pattern === 'string' || isRecord(node.patternProperties) || node.format === 'regex';
  });
  return found;
}

/** Characters of JSON past which compiling a schema costs the event loop more than a worker round trip (about 1 ms a KiB). */
export const SCHEMA_WORKER_CHARS = 1_024;

/**
 * A tenant's schema as a flow version holds it: known to the JSON workers by `id` (unique in the
 * process; each worker thread compiles its own copy once), compiled here on first use.
 */
export class TenantSchema {
  private static nextId = 1;
  readonly id = TenantSchema.nextId++;
  private compiled: SchemaValidator | undefined;
  private heavy: boolean | undefined;
  private json: string | undefined;

  constructor(readonly schema: object) {}

  /** Its JSON text, made once: what a worker is sent (a string copies faster than the objects it holds). */
  get text(): string {
    return (this.json ??= JSON.stringify(this.schema));
  }

  /**
   * Whether values are checked against it on a JSON worker: it holds patterns (characters times a
   * program, up to the pattern budget), or is `SCHEMA_WORKER_CHARS` long or more (its compilation).
   */
  get onWorker(): boolean {
    return (this.heavy ??= holdsPatterns(this.schema) || jsonLength(this.schema, SCHEMA_WORKER_CHARS) >= SCHEMA_WORKER_CHARS);
  }

  /** The validator, compiled once (throws as `compileTenantSchema` does; a failure is not kept). */
  get validator(): SchemaValidator {
    return (this.compiled ??= compileTenantSchema(this.schema));
  }
}

/** A copy of `schema` with the step keyword in every subschema (data keywords untouched). */
function withSteps(schema: object): object {
  // A JSON round trip, not structuredClone: the copy's objects must share the realm (and constructors) of the data compared to const and enum.
  const copy = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  walkSchemas(copy, (node) => {
    node[STEP_KEYWORD] = true;
  });
  return copy;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Values in `value` (itself, items, members), iteratively. */
function countValues(value: unknown): number {
  let count = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    count++;
    if (node !== null && typeof node === 'object') for (const child of Object.values(node)) pending.push(child);
  }
  return count;
}

/** Length of `JSON.stringify(value)`, counted without building it and stopping past `limit`. */
function jsonLength(value: unknown, limit: number): number {
  let length = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0 && length <= limit) {
    const node = pending.pop();
    if (typeof node === 'string') length += node.length + 2;
    else if (node === null || typeof node !== 'object') length += String(node).length;
    else if (Array.isArray(node)) {
      length += 1 + node.length;
      for (const item of node) pending.push(item);
    } else {
      const keys = Object.keys(node);
      length += 1 + Math.max(keys.length, 1);
      for (const key of keys) {
        length += key.length + 3;
        pending.push((node as Record<string, unknown>)[key]);
      }
    }
  }
  return length;
}

/** The location of the first value nested deeper than `limit`, or null. */
function deeperThan(value: unknown, limit: number): Loc | null {
  const pending: [unknown, Loc][] = [[value, []]];
  while (pending.length > 0) {
    const [node, loc] = pending.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (loc.length >= limit) return loc;
    for (const [key, child] of Object.entries(node)) pending.push([child, [...loc, Array.isArray(node) ? Number(key) : key]]);
  }
  return null;
}
