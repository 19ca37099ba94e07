import { Injectable } from '@nestjs/common';
import { badRequest } from '../common/errors/app-error';
import { SchemaValidator, ValidationBudgetExceeded } from '../common/validation/json-schema';
import { RequestValidationError, ValidationIssue } from '../common/validation/validation-error';
import { compileInputSchema } from '../flows/flow-definition';

const CACHE_LIMIT = 1000;

/**
 * Validates values against JSON Schemas of flow definitions: execution input against an input
 * task's schema, webhook data against a task's output model. Compiled validators are kept per flow
 * version and task (they never change), the least recently used dropped past the limit.
 */
@Injectable()
export class InputValidator {
  private readonly compiled = new Map<string, SchemaValidator>();

  validate(cacheKey: string, schema: object, input: unknown): void {
    const details = this.issues(cacheKey, schema, input, ['body', 'input']);
    if (details.length > 0) throw badRequest('Input does not match the input schema of the flow', details as unknown as Record<string, unknown>[]);
  }

  /**
   * What is wrong with `value`, one item per failure located under `loc` (the first 100); `[]` when
   * it matches. 422 when checking it would cost more than its budget, 400 when the schema cannot run.
   */
  issues(cacheKey: string, schema: object, value: unknown, loc: string[]): ValidationIssue[] {
    const validate = this.compiled.get(cacheKey) ?? this.compile(schema);
    this.compiled.delete(cacheKey);
    this.compiled.set(cacheKey, validate);
    if (this.compiled.size > CACHE_LIMIT) this.compiled.delete(this.compiled.keys().next().value as string);
    let errors;
    try {
      errors = validate(value);
    } catch (error) {
      if (error instanceof ValidationBudgetExceeded) throw new RequestValidationError([{ loc, msg: error.message, type: 'too_costly', input: null }]);
      throw error;
    }
    return errors.map((e) => {
      const field = e.params.missingProperty ?? e.params.additionalProperty;
      return {
        loc: [...loc, ...e.instancePath.split('/').filter(Boolean), ...(field ? [field] : [])],
        msg: e.message ?? 'is invalid',
        type: e.keyword,
      };
    });
  }

  private compile(schema: object): SchemaValidator {
    try {
      return compileInputSchema(schema);
    } catch (error) {
      // Flows saved before a limit existed (a pattern RE2 cannot run, a schema too large) keep it; nothing can be checked against it.
      throw badRequest(`The schema of this flow cannot be used: ${(error as Error).message}`);
    }
  }
}
