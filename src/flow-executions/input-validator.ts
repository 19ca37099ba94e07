import { Injectable } from '@nestjs/common';
import { badRequest } from '../common/errors/app-error';
import { BodyJson } from '../common/http/raw-json';
import type { SchemaVerdict } from '../common/json-worker/json-work';
import { JsonWorkers } from '../common/json-worker/json-workers';
import { SchemaValidator, TenantSchema, ValidationBudgetExceeded } from '../common/validation/json-schema';
import { RequestValidationError, ValidationIssue } from '../common/validation/validation-error';

/**
 * Checks values against flow versions' schemas (`FlowAnalysis.schema`): execution input against an
 * input task's schema, webhook data against a task's output model. JSON text of a large body, and
 * any value against a schema that holds patterns or is large, is checked on a JSON worker
 * (docs/api.md#event-loop-budget); anything else here, where a round trip would cost more than it saves.
 */
@Injectable()
export class InputValidator {
  constructor(private readonly workers: JsonWorkers) {}

  /** Execution input against `schema`: a 400 listing what does not match. */
  async validate(schema: TenantSchema, input: unknown): Promise<void> {
    const details = await this.issues(schema, input, ['body', 'input']);
    if (details.length > 0) throw badRequest('Input does not match the input schema of the flow', details as unknown as Record<string, unknown>[]);
  }

  /**
   * What is wrong with `value`, one item per failure located under `loc` (the first 100); `[]` when
   * it matches. 422 when checking it would cost more than its budget; 400 when the schema cannot be compiled.
   */
  async issues(schema: TenantSchema, value: unknown, loc: string[]): Promise<ValidationIssue[]> {
    if (value instanceof BodyJson) return this.mapped(await this.workers.validate(schema, value.text), loc);
    if (schema.onWorker) return this.mapped(await this.workers.validate(schema, JSON.stringify(value)), loc);
    return this.mapped(checkHere(schema, value), loc);
  }

  private mapped(verdict: SchemaVerdict, loc: string[]): ValidationIssue[] {
    // Flows saved before a limit existed (a pattern RE2 cannot run, a schema too large) keep it; nothing can be checked against it.
    if ('unusable' in verdict) throw badRequest(`The schema of this flow cannot be used: ${verdict.unusable}`);
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

/** `value` against `schema` on the event loop, as a worker answers it (`validateJson`). */
function checkHere(schema: TenantSchema, value: unknown): SchemaVerdict {
  let validate: SchemaValidator;
  try {
    validate = schema.validator;
  } catch (error) {
    return { unusable: (error as Error).message };
  }
  try {
    return { errors: validate(value) };
  } catch (error) {
    if (error instanceof ValidationBudgetExceeded) return { budget: error.what };
    throw error;
  }
}
