import { applyDecorators, Type } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import type { Response } from 'express';

export const MAX_WAIT_SECONDS = 60;

/**
 * The `wait` preference of an RFC 7240 `Prefer` header, in seconds, clamped to 1..60; null when
 * absent or not a positive integer (a preference the server cannot honour is ignored, §2).
 */
export function preferredWait(header: string | string[] | undefined): number | null {
  if (header === undefined) return null;
  const values = Array.isArray(header) ? header : [header];
  for (const preference of values.flatMap((v) => v.split(','))) {
    const match = /^\s*wait\s*=\s*"?(\d{1,10})"?\s*(;.*)?$/i.exec(preference);
    if (!match) continue;
    const seconds = Number(match[1]);
    return seconds >= 1 ? Math.min(seconds, MAX_WAIT_SECONDS) : null;
  }
  return null;
}

/** Documents the conditional GET and its long-poll, so Swagger UI can send both headers. */
export function ApiLongPoll(type: Type<unknown>) {
  return applyDecorators(
    ApiOkResponse({ type }),
    ApiHeader({ name: 'If-None-Match', required: false, description: 'The ETag you have: 304 while it is still current' }),
    ApiHeader({
      name: 'Prefer',
      required: false,
      description: `RFC 7240 \`wait=N\` (1-${MAX_WAIT_SECONDS} s): with a current If-None-Match, hold the answer until the resource changes (200) or N seconds pass (304); the answer then carries \`Preference-Applied\``,
    }),
    ApiResponse({ status: 304, description: 'Not Modified - If-None-Match names the current version' }),
  );
}

/** Writes a conditional GET's answer: ETag always, `Preference-Applied` when held, the body or a 304. */
export function replyConditional(res: Response, answer: { etag: string; body: unknown; waited: boolean }, wait: number | null): void {
  res.set({ ETag: answer.etag, 'Cache-Control': 'private, no-cache' });
  if (answer.waited) res.set('Preference-Applied', `wait=${wait}`);
  if (answer.body) res.json(answer.body);
  else res.status(304).end();
}
