import { applyDecorators, Type } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto, ValidationErrorResponseDto } from '../errors/error-envelope.dto';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad Request - malformed id or a request that makes no sense',
  401: 'Unauthorized - missing or invalid credentials',
  403: 'Forbidden - the role lacks the permission, or the resource belongs to another organization',
  404: 'Not Found - the resource does not exist or was deleted',
  409: 'Conflict - a state transition that is not allowed, or a duplicate',
  410: 'Gone - the cursor is older than the retained event log',
  422: 'Validation Error - query or body validation failed, or a documented bound exceeded',
  429: 'Too Many Requests - the organization or the credential is over its rate limit (when configured); see Retry-After',
  500: 'Internal Server Error - logged with the request id; the body never carries details',
  503: 'Service Unavailable - the database is unreachable or overloaded, or the request took too long; see Retry-After',
};

/** Documents the error envelope for the given statuses (401, 422, 429, 500 and 503 are implied on every route). */
export function ApiErrors(...statuses: number[]) {
  const all = [...new Set([401, 422, 429, 500, 503, ...statuses])].sort();
  return applyDecorators(
    ...all.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: status === 422 ? ValidationErrorResponseDto : ErrorResponseDto })),
  );
}

/** An operation named as in the upstream document: its operationId, its 200 body (by the spec's schema name) and its errors. */
export function ApiUpstreamOperation(operationId: string, ok: Type | [Type] | undefined, ...statuses: number[]) {
  const okResponse = ok === undefined ? [] : [ApiOkResponse({ type: ok })];
  return applyDecorators(ApiOperation({ operationId }), ...okResponse, ApiErrors(...statuses));
}
