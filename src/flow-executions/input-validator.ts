import { Injectable } from '@nestjs/common';
import type { ValidateFunction } from 'ajv/dist/2020';
import { badRequest } from '../common/errors/app-error';
import { compileInputSchema } from '../flows/flow-definition';

const CACHE_LIMIT = 1000;

/**
 * Validates execution input against an input task's JSON Schema. Compiled validators are kept per
 * flow version and task (they never change), the least recently used dropped past the limit.
 */
@Injectable()
export class InputValidator {
  private readonly compiled = new Map<string, ValidateFunction>();

  validate(cacheKey: string, schema: object, input: unknown): void {
    const validate = this.compiled.get(cacheKey) ?? compileInputSchema(schema);
    this.compiled.delete(cacheKey);
    this.compiled.set(cacheKey, validate);
    if (this.compiled.size > CACHE_LIMIT) this.compiled.delete(this.compiled.keys().next().value as string);
    if (validate(input)) return;
    const details = (validate.errors ?? []).map((e) => ({
      loc: ['body', 'input', ...e.instancePath.split('/').filter(Boolean), ...(e.params.missingProperty ? [e.params.missingProperty] : [])],
      msg: e.message ?? 'is invalid',
      type: e.keyword,
    }));
    throw badRequest('Input does not match the input schema of the flow', details);
  }
}
