import { Injectable } from '@nestjs/common';
import type { ValidateFunction } from 'ajv/dist/2020';
import { badRequest } from '../common/errors/app-error';
import type { ValidationIssue } from '../common/validation/validation-error';
import { compileInputSchema } from '../flows/flow-definition';

const CACHE_LIMIT = 1000;

/**
 * Validates values against JSON Schemas of flow definitions: execution input against an input
 * task's schema, webhook data against a task's output model. Compiled validators are kept per flow
 * version and task (they never change), the least recently used dropped past the limit.
 */
@Injectable()
export class InputValidator {
  private readonly compiled = new Map<string, ValidateFunction>();

  validate(cacheKey: string, schema: object, input: unknown): void {
    const details = this.issues(cacheKey, schema, input, ['body', 'input']);
    if (details.length > 0) throw badRequest('Input does not match the input schema of the flow', details as unknown as Record<string, unknown>[]);
  }

  /** What is wrong with `value`, one item per failure located under `loc`; `[]` when it matches. */
  issues(cacheKey: string, schema: object, value: unknown, loc: string[]): ValidationIssue[] {
    const validate = this.compiled.get(cacheKey) ?? compileInputSchema(schema);
    this.compiled.delete(cacheKey);
    this.compiled.set(cacheKey, validate);
    if (this.compiled.size > CACHE_LIMIT) this.compiled.delete(this.compiled.keys().next().value as string);
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => {
      const field = e.params.missingProperty ?? e.params.additionalProperty;
      return {
        loc: [...loc, ...e.instancePath.split('/').filter(Boolean), ...(field ? [field] : [])],
        msg: e.message ?? 'is invalid',
        type: e.keyword,
      };
    });
  }
}
