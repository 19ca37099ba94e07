import { PipeTransform } from '@nestjs/common';
import { badRequest } from '../errors/app-error';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Path ids: anything but a UUID is a 400 `bad_request` (docs/api.md#error-codes), e.g. "Invalid execution ID format". */
export class ParseIdPipe implements PipeTransform<string, string> {
  constructor(private readonly what: string) {}

  transform(value: string): string {
    if (!isUuid(value)) throw badRequest(`Invalid ${this.what} ID format`);
    return value.toLowerCase();
  }
}
