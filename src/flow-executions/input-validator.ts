import { Injectable } from '@nestjs/common';
import { badRequest } from '../common/errors/app-error';
import { SchemaValidator, ValidationBudgetExceeded } from '../common/validation/json-schema';
import { RequestValidationError, ValidationIssue } from '../common/validation/validation-error';

/**
 * Runs the compiled validators of flow versions' schemas (`FlowAnalysis.validator`, compiled once
 * per version): execution input against an input task's schema, webhook data against a task's
 * output model.
 */
@Injectable()
export class InputValidator {
  validate(validate: SchemaValidator, input: unknown): void {
    const details = this.issues(validate, input, ['body', 'input']);
    if (details.length > 0) throw badRequest('Input does not match the input schema of the flow', details as unknown as Record<string, unknown>[]);
  }

  /**
   * What is wrong with `value`, one item per failure located under `loc` (the first 100); `[]` when
   * it matches. 422 when checking it would cost more than its budget.
   */
  issues(validate: SchemaValidator, value: unknown, loc: string[]): ValidationIssue[] {
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
}
