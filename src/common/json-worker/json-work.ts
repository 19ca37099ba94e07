import { jsonDeeperThan, MAX_BODY_DEPTH } from '../validation/json-depth';
import { canonical } from '../validation/canonical';
import { compileTenantSchema, SchemaValidator, ValidationBudgetExceeded } from '../validation/json-schema';
import { findUnstorable } from '../validation/storable';
import type { ValidationIssue } from '../validation/validation-error';

/**
 * The work a JSON worker does for a large body, off the event loop: the checks every body gets
 * (depth, JSON, values PostgreSQL can store) and, for an object body, each object or array member
 * handed back as JSON text with its canonical form (the idempotency fingerprint's), so that the
 * main thread never parses or copies what it only stores.
 */

/** A member kept as JSON text: compact (`JSON.stringify`), of which JSON type, and key-sorted for fingerprints. */
export interface MemberText {
  text: string;
  kind: 'object' | 'array';
  canonical: string;
}

export type ParsedBody =
  | { error: 'deep' | 'syntax' }
  | {
      /** An object body's members: plain values as they are, objects and arrays as JSON text. */
      members: [string, unknown][] | null;
      /** Any other body (an array), as parsed. */
      value: unknown;
      nonFinite: ValidationIssue[];
      unstorable: ValidationIssue[];
    };

/** `JSON.parse` as body-parser's strict JSON parser applies it: an empty body is `{}`, a top-level scalar is refused. */
export function parseStrictJson(text: string): unknown {
  if (text.length === 0) return {};
  const first = /^[ \t\n\r]*(.?)/.exec(text)![1];
  if (first !== '{' && first !== '[') throw new SyntaxError('A JSON body is an object or an array');
  return JSON.parse(text) as unknown;
}

export function parseBody(text: string): ParsedBody {
  if (jsonDeeperThan(text, MAX_BODY_DEPTH)) return { error: 'deep' };
  let value: unknown;
  try {
    value = parseStrictJson(text);
  } catch {
    return { error: 'syntax' };
  }
  const { nonFinite, unstorable } = findUnstorable(value, ['body']);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { members: null, value, nonFinite, unstorable };
  const members = Object.entries(value).map(([key, member]): [string, unknown] => [
    key,
    member !== null && typeof member === 'object'
      ? ({ text: JSON.stringify(member), kind: Array.isArray(member) ? 'array' : 'object', canonical: canonical(member) } satisfies MemberText)
      : member,
  ]);
  return { members, value: null, nonFinite, unstorable };
}

/** What a validation found: Ajv's errors (the fields the answer uses), the budget it ran out of, or why the schema cannot be compiled. */
export type SchemaVerdict =
  | { errors: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }[] }
  | { budget: ValidationBudgetExceeded['what'] }
  | { unusable: string };

// Compiled schemas by the id the main thread gave them (TenantSchema.id); the oldest go first.
const compiled = new Map<number, SchemaValidator>();
const COMPILED_KEPT = 64;

/** Validates JSON text against a tenant schema (JSON text too), compiled here once per id. */
export function validateJson({ id, schema, text }: { id: number; schema: string; text: string }): SchemaVerdict {
  let validate = compiled.get(id);
  if (!validate) {
    try {
      validate = compileTenantSchema(JSON.parse(schema) as object);
    } catch (error) {
      // Flows saved before a limit existed may hold a schema that no longer compiles: the main thread answers it.
      return { unusable: (error as Error).message };
    }
    compiled.set(id, validate);
    if (compiled.size > COMPILED_KEPT) compiled.delete(compiled.keys().next().value!);
  }
  try {
    const errors = validate(JSON.parse(text));
    return { errors: errors.map(({ instancePath, keyword, message, params }) => ({ instancePath, keyword, message, params: { ...params } })) };
  } catch (error) {
    if (error instanceof ValidationBudgetExceeded) return { budget: error.what };
    throw error;
  }
}
