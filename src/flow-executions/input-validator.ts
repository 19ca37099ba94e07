import { Injectable } from '@nestjs/common';
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { badRequest } from '../common/errors/app-error';

/** Validates execution input against an input task's JSON Schema; compiled schemas are kept per flow version. */
@Injectable()
export class InputValidator {
  private readonly ajv = addFormats(new Ajv2020({ allErrors: true, strict: false }));
  private readonly compiled = new Map<string, ValidateFunction>();

  validate(cacheKey: string, schema: object, input: unknown): void {
    let validate = this.compiled.get(cacheKey);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.compiled.set(cacheKey, validate);
    }
    if (validate(input)) return;
    const details = (validate.errors ?? []).map((e) => ({
      loc: ['body', 'input', ...e.instancePath.split('/').filter(Boolean), ...(e.params.missingProperty ? [e.params.missingProperty] : [])],
      msg: e.message ?? 'is invalid',
      type: e.keyword,
    }));
    throw badRequest('Input does not match the input schema of the flow', details);
  }
}
