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
  422: 'Validation Error - query or body validation failed',
  500: 'Internal Server Error - logged with the request id; the body never carries details',
};

/** Documents the error envelope for the given statuses (401, 422 and 500 are implied on every route). */
export function ApiErrors(...statuses: number[]) {
  const all = [...new Set([401, 422, 500, ...statuses])].sort();
  return applyDecorators(
    ...all.map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status], type: status === 422 ? ValidationErrorResponseDto : ErrorResponseDto }),
    ),
  );
}

/** An operation named as in the upstream document: its operationId, its 200 body (by the spec's schema name) and its errors. */
export function ApiUpstreamOperation(operationId: string, ok: Type | [Type] | undefined, ...statuses: number[]) {
  const okResponse = ok === undefined ? [] : [ApiOkResponse({ type: ok })];
  return applyDecorators(ApiOperation({ operationId }), ...okResponse, ApiErrors(...statuses));
}
