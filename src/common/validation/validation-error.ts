import { AppError } from '../errors/app-error';

/** One failed field, in the shape FastAPI-style clients parse (`loc`, `msg`, `type`, `input`). */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
  input?: unknown;
}

export class RequestValidationError extends AppError {
  constructor(readonly issues: ValidationIssue[]) {
    super('validation_error', 'Request validation failed', issues as unknown as Record<string, unknown>[]);
  }
}
