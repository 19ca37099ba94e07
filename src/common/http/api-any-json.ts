import { ApiProperty } from '@nestjs/swagger';

/**
 * Any JSON value or null. The plugin would document `unknown` as an object, and null fails that;
 * OpenAPI 3.0 allows `nullable` only beside a `type`, so it sits on the object branch.
 */
export const ApiAnyJson = (options: { required?: boolean; description?: string } = {}) =>
  ApiProperty({
    required: options.required ?? true,
    description: options.description,
    anyOf: [{ type: 'object', nullable: true }, { type: 'array', items: {} }, { type: 'string' }, { type: 'number' }, { type: 'boolean' }],
  });
