import { expectSpecSchema } from './spec';

/** An answer as supertest gives it (or shaped so): status, parsed body, lower-cased headers. */
export interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
  request_id: string;
  detail?: { loc: (string | number)[]; msg: string; type: string; input?: unknown }[];
}

/**
 * Asserts an error answer (docs/api.md#errors): the status and the code together (a mismatch
 * shows both), the message when given, the envelope of the spec's `ErrorResponse`, and the
 * `request_id` that the `X-Request-Id` header carries. Answers the body, typed.
 */
export function expectEnvelope(res: Answer, status: number, code: string, message?: string | RegExp): ErrorBody {
  const body = res.body as ErrorBody;
  expect({ status: res.status, code: body?.error?.code }).toEqual({ status, code });
  if (message !== undefined) expect(body.error.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
  expectSpecSchema('ErrorResponse', body);
  expect(body.request_id).toBe(res.headers['x-request-id']);
  return body;
}
