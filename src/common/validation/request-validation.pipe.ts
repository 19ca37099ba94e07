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
      stopAtFirstError: true,
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
    // A required field that is absent reads as FastAPI's `missing`, whatever the first failed rule.
    const own = Object.entries(error.constraints ?? {}).map(([constraint, msg]) =>
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
