import { ArgumentMetadata, Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
import { badRequest } from '../errors/app-error';
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

  // Bodies nested deeper than MAX_BODY_DEPTH never get here: the JSON parser refuses them (json-depth.ts).
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Before class-transformer: unknown fields are checked too, and nothing unstorable reaches a query.
    if (metadata.type === 'body' || metadata.type === 'query' || metadata.type === 'param') {
      const where = LOCATION[metadata.type];
      const root = metadata.data ? [where, metadata.data] : [where];
      const { nonFinite, unstorable } = findUnstorable(value, root);
      if (nonFinite.length > 0) {
        throw badRequest(`Number out of range at ${nonFinite.map((issue) => issue.loc.join('.')).join(', ')}`, nonFinite as unknown as Record<string, unknown>[]);
      }
      if (unstorable.length > 0) throw new RequestValidationError(unstorable);
    }
    try {
      return await super.transform(value, metadata);
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
    const own = Object.entries(error.constraints ?? {}).slice(-1).map(([constraint, msg]) =>
      error.value === undefined
        ? { loc, msg: 'Field required', type: 'missing', input: null }
        : { loc, msg, type: snakeCase(constraint), input: error.value },
    );
    return [...own, ...flatten(error.children ?? [], loc)];
  });
}

function snakeCase(constraint: string): string {
  return constraint.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
