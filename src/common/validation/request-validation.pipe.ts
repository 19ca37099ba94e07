import { ArgumentMetadata, Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { badRequest } from '../errors/app-error';
import { BodyJson } from '../http/raw-json';
import { CHECKED_BODY, CheckedBody } from '../json-worker/json-body';
import { jsonTextMembers } from './json-text.decorator';
import { findUnstorable } from './storable';
import { RequestValidationError, ValidationIssue } from './validation-error';

const LOCATION: Record<ArgumentMetadata['type'], string> = { query: 'query', body: 'body', param: 'path', custom: 'body' };

class FieldErrors extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super('validation failed');
  }
}

/**
 * The global pipe: class-validator DTOs, unknown fields stripped (never applied), and failures
 * rendered as 422 items whose `loc` starts with where the value came from.
 */
@Injectable()
export class RequestValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidUnknownValues: false,
      validationError: { target: false, value: true },
      exceptionFactory: (errors) => new FieldErrors(flatten(errors, [])),
    });
  }

  // Requests' values are parsed JSON, query strings and path segments: never a Buffer or an ArrayBuffer, so the base
  // pipe's search for binary values (a second walk of the DTO's validation metadata per request) has nothing to find.
  protected override findNestedBinaryValues(): ValidationError[] {
    return [];
  }

  // Bodies nested deeper than MAX_BODY_DEPTH never get here: the JSON parser refuses them (json-body.ts).
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // A body parsed on a JSON worker was checked there; its JSON text members become values unless the DTO takes them as text.
    const checked = metadata.type === 'body' && !metadata.data ? checkedByWorker(value, metadata.metatype) : null;
    if (value instanceof BodyJson) value = JSON.parse(value.text);
    // Before class-transformer: unknown fields are checked too, and nothing unstorable reaches a query.
    if (metadata.type === 'body' || metadata.type === 'query' || metadata.type === 'param') {
      const where = LOCATION[metadata.type];
      const root = metadata.data ? [where, metadata.data] : [where];
      const { nonFinite, unstorable } = checked ?? findUnstorable(value, root);
      if (nonFinite.length > 0) {
        throw badRequest(
          `Number out of range at ${nonFinite.map((issue) => issue.loc.join('.')).join(', ')}`,
          nonFinite as unknown as Record<string, unknown>[],
        );
      }
      if (unstorable.length > 0) throw new RequestValidationError(unstorable);
    }
    const detached = metadata.type === 'body' ? detachFreeForm(value, metadata.metatype) : null;
    try {
      const result = await super.transform(detached ? detached.standIn : value, metadata);
      if (detached && result !== null && typeof result === 'object') {
        for (const [key, original] of detached.originals) if (key in result) (result as Record<string, unknown>)[key] = original;
      }
      return result;
    } catch (error) {
      if (!(error instanceof FieldErrors)) throw error;
      const where = LOCATION[metadata.type];
      throw new RequestValidationError(error.issues.map((issue) => ({ ...issue, loc: [where, ...issue.loc] })));
    }
  }
}

function flatten(errors: ValidationError[], path: (string | number)[]): ValidationIssue[] {
  return errors.flatMap((error) => {
    const loc = [...path, /^\d+$/.test(error.property) ? Number(error.property) : error.property];
    // One item per field: the last rule run is the top decorator, by habit the type check
    // (`@IsString()` above `@MaxLength()`). An absent required field reads as FastAPI's `missing`.
    const own = Object.entries(error.constraints ?? {})
      .slice(-1)
      .map(([constraint, msg]) =>
        error.value === undefined
          ? { loc, msg: 'Field required', type: 'missing', input: null }
          : { loc, msg, type: snakeCase(constraint), input: error.value },
      );
    return [...own, ...flatten(error.children ?? [], loc)];
  });
}

/**
 * class-transformer deep-copies free-form JSON members (inputs, outputs, definitions, webhook data:
 * `unknown` or `Record<string, unknown>` with only type checks), 0.5 s for 1 MiB of nested arrays,
 * for decorators that only look at their JSON type. They get a stand-in of that type; the value
 * itself is put back after.
 */
function detachFreeForm(value: unknown, metatype: ArgumentMetadata['metatype']): { standIn: Record<string, unknown>; originals: Map<string, unknown> } | null {
  if (!metatype || value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const keys = freeFormKeys(metatype);
  if (keys.size === 0) return null;
  const standIn: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const originals = new Map<string, unknown>();
  for (const key of keys) {
    const member = standIn[key];
    if (member === null || typeof member !== 'object') continue;
    originals.set(key, member);
    standIn[key] = Array.isArray(member) || (member instanceof BodyJson && member.kind === 'array') ? [] : {};
  }
  return originals.size > 0 ? { standIn, originals } : null;
}

/**
 * What the JSON worker found unstorable in a body it parsed (null for a body parsed here). Members
 * it handed back as JSON text are parsed now, but those the DTO takes as text (`@JsonText()`, on a
 * free-form member): its handler stores or validates them off the event loop.
 */
function checkedByWorker(value: unknown, metatype: ArgumentMetadata['metatype']): CheckedBody | null {
  if (value === null || typeof value !== 'object' || !(CHECKED_BODY in value)) return null;
  const asText = jsonTextMembers(metatype);
  const freeFormMembers = metatype ? freeFormKeys(metatype) : new Set<string>();
  for (const [key, member] of Object.entries(value)) {
    if (!(member instanceof BodyJson) || (asText.has(key) && freeFormMembers.has(key))) continue;
    // Defined, not assigned: a member named `__proto__` stays a member.
    Object.defineProperty(value, key, { value: JSON.parse(member.text), writable: true, enumerable: true, configurable: true });
  }
  return (value as { [CHECKED_BODY]: CheckedBody })[CHECKED_BODY];
}

// Checks that look at a value's JSON type only; anything else (nested DTOs, array sizes, custom rules) sees the real value.
const TYPE_ONLY = new Set(['isObject']);
const freeForm = new WeakMap<object, Set<string>>();

function freeFormKeys(metatype: NonNullable<ArgumentMetadata['metatype']>): Set<string> {
  let keys = freeForm.get(metatype);
  if (keys) return keys;
  const typeOnly = new Map<string, boolean>();
  for (const rule of getMetadataStorage().getTargetValidationMetadatas(metatype, '', true, false)) {
    const ok = rule.type === 'conditionalValidation' || rule.type === 'isDefined' || (rule.type === 'customValidation' && TYPE_ONLY.has(rule.name ?? ''));
    typeOnly.set(rule.propertyName, (typeOnly.get(rule.propertyName) ?? true) && ok);
  }
  keys = new Set([...typeOnly].filter(([key, ok]) => ok && Reflect.getMetadata('design:type', metatype.prototype, key) === Object).map(([key]) => key));
  freeForm.set(metatype, keys);
  return keys;
}

function snakeCase(constraint: string): string {
  return constraint.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
