import { Injectable } from '@nestjs/common';
import { badRequest } from '../common/errors/app-error';
import { BodyJson } from '../common/http/raw-json';
import type { SchemaVerdict } from '../common/json-worker/json-work';
import { JsonWorkers } from '../common/json-worker/json-workers';
import { SchemaValidator, ValidationBudgetExceeded } from '../common/validation/json-schema';
import { RequestValidationError, ValidationIssue } from '../common/validation/validation-error';

/**
 * Runs the compiled validators of flow versions' schemas (`FlowAnalysis.validator`, compiled once
 * per version): execution input against an input task's schema, webhook data against a task's
 * output model.
 */
@Injectable()
export class InputValidator {
  constructor(private readonly workers: JsonWorkers) {}

  /** Execution input against `validate`, compiled from `schema`; JSON text of a large body is checked on a JSON worker. */
  async validate(validate: SchemaValidator, schema: object, input: unknown): Promise<void> {
    const loc = ['body', 'input'];
    const details = input instanceof BodyJson ? this.mapped(await this.workers.validate(validate, schema, input.text), loc) : this.issues(validate, input, loc);
    if (details.length > 0) throw badRequest('Input does not match the input schema of the flow', details as unknown as Record<string, unknown>[]);
  }

  /**
   * What is wrong with `value`, one item per failure located under `loc` (the first 100); `[]` when
   * it matches. 422 when checking it would cost more than its budget.
   */
  issues(validate: SchemaValidator, value: unknown, loc: string[]): ValidationIssue[] {
    try {
      return this.mapped({ errors: validate(value) }, loc);
    } catch (error) {
      if (error instanceof ValidationBudgetExceeded) return this.mapped({ budget: error.what }, loc);
      throw error;
    }
  }

  private mapped(verdict: SchemaVerdict, loc: string[]): ValidationIssue[] {
    if ('budget' in verdict) {
      throw new RequestValidationError([{ loc, msg: new ValidationBudgetExceeded(verdict.budget).message, type: 'too_costly', input: null }]);
    }
    return verdict.errors.map((e) => {
      const field = (e.params.missingProperty ?? e.params.additionalProperty) as string | undefined;
      return {
        loc: [...loc, ...e.instancePath.split('/').filter(Boolean), ...(field ? [field] : [])],
        msg: e.message ?? 'is invalid',
        type: e.keyword,
      };
    });
  }
}
