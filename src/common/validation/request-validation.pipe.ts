import { ArgumentMetadata, Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
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

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
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
    const own = Object.entries(error.constraints ?? {}).map(([constraint, msg]) => ({
      loc,
      msg,
      type: issueType(constraint, error.value),
      input: error.value ?? null,
    }));
    return [...own, ...flatten(error.children ?? [], loc)];
  });
}

function issueType(constraint: string, value: unknown): string {
  if (value === undefined && (constraint === 'isDefined' || constraint === 'isNotEmpty')) return 'missing';
  return constraint.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
