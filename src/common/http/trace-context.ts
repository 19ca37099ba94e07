import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { Request } from 'express';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): a `traceparent` kept with a run, with
 * the `tracestate` that came with it. Rules: docs/api.md#trace-context.
 */
export interface TraceContext {
  /** Always version `00`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`. */
  traceparent: string;
  /** The list members as received, comma-joined; null when absent, empty or discarded. */
  tracestate: string | null;
}

/** A run's stored trace context, as every task-execution body and webhook delivery of the run carries it. */
export interface RunTrace {
  traceparent: string | null;
  tracestate: string | null;
}

export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';
/** At most 32 list members. */
export const MAX_TRACESTATE_MEMBERS = 32;
/** A combined tracestate is propagated up to 512 characters; longer ones are truncated. */
export const MAX_TRACESTATE_LENGTH = 512;
/** When truncating, members longer than this go first. */
const LONG_MEMBER = 128;

const VERSION_00_LENGTH = 55;
// Fixed-length and anchored: linear on any input, and only run on values of bounded length.
const TRACEPARENT_FIELDS = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZEROS = /^0+$/;
// A key: simple-key, or tenant-id@system-id.
const SIMPLE_KEY = /^[a-z][a-z0-9_\-*/]{0,255}$/;
const TENANT_KEY = /^[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}$/;
// A value: up to 256 printable ASCII characters but ',' and '=', not ending in a space.
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
// The longest member the grammar allows (key 256, '=', value 256), so nothing longer reaches a pattern.
const MAX_MEMBER_LENGTH = 513;

/**
 * The traceparent of a request (the spec's traceparent header and processing model): a header that does not
 * parse is ignored, never an error — the request goes on as if it had none. Version `00` must be
 * exactly 55 characters; a higher version (but `ff`) is read for the fields version `00` knows, and
 * kept as version `00`, as a vendor passing it on writes its own version. A trace id or parent id of
 * all zeros is invalid. Several `traceparent` headers (combined with commas) are invalid.
 */
export function parseTraceparent(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string' || header.length < VERSION_00_LENGTH || header.length > 4096) return null;
  const match = TRACEPARENT_FIELDS.exec(header);
  if (!match) return null;
  const [, version, traceId, parentId, flags, rest] = match;
  if (version === 'ff' || ALL_ZEROS.test(traceId) || ALL_ZEROS.test(parentId)) return null;
  if (version === '00' && rest !== undefined) return null;
  return `00-${traceId}-${parentId}-${flags}`;
}

/**
 * The tracestate (the spec's tracestate header): list members separated by commas with optional spaces and tabs around
 * them; empty members are dropped. A header that does not parse (a malformed member, a duplicate
 * key, more than 32 members) is discarded as a whole, as the spec allows. One longer than 512
 * characters is truncated as the spec's combined header length rule says: members longer than 128 characters go first, then
 * members from the end. Null when nothing is left.
 */
export function parseTracestate(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  // Node joins repeated tracestate headers with ", ", which is how the spec combines them.
  const combined = Array.isArray(header) ? header.join(',') : header;
  const members: string[] = [];
  const keys = new Set<string>();
  for (const raw of combined.split(',')) {
    const member = trimOws(raw);
    if (member === '') continue;
    if (members.length === MAX_TRACESTATE_MEMBERS || member.length > MAX_MEMBER_LENGTH) return null;
    const eq = member.indexOf('=');
    if (eq < 0) return null;
    const key = member.slice(0, eq);
    const value = member.slice(eq + 1);
    if (!(SIMPLE_KEY.test(key) || TENANT_KEY.test(key)) || !VALUE.test(value) || keys.has(key)) return null;
    keys.add(key);
    members.push(member);
  }
  return truncateTracestate(members);
}

/** Strips spaces and tabs (OWS) at both ends, without a pattern that backtracks on long runs of them. */
function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === ' ' || text[start] === '\t')) start++;
  while (end > start && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  return text.slice(start, end);
}

function truncateTracestate(members: string[]): string | null {
  let kept = members;
  const length = (list: string[]) => list.reduce((sum, m) => sum + m.length, 0) + Math.max(list.length - 1, 0);
  if (length(kept) > MAX_TRACESTATE_LENGTH) kept = kept.filter((m) => m.length <= LONG_MEMBER);
  while (length(kept) > MAX_TRACESTATE_LENGTH) kept = kept.slice(0, -1);
  return kept.length > 0 ? kept.join(',') : null;
}

/** The request's trace context, or null: a tracestate is read only beside a valid traceparent. */
export function parseTraceContext(traceparent: string | string[] | undefined, tracestate: string | string[] | undefined): TraceContext | null {
  const parent = parseTraceparent(traceparent);
  return parent === null ? null : { traceparent: parent, tracestate: parseTracestate(tracestate) };
}

/**
 * The trace context the request carries (`traceparent`, `tracestate`), or null; documents both
 * headers on the operation.
 */
export const IncomingTrace = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): TraceContext | null => {
    const headers = ctx.switchToHttp().getRequest<Request>().headers;
    return parseTraceContext(headers[TRACEPARENT_HEADER], headers[TRACESTATE_HEADER]);
  },
  [
    (target: object, key: string | symbol | undefined) => {
      if (key === undefined) return;
      const descriptor = Object.getOwnPropertyDescriptor(target, key)!;
      ApiHeader({
        name: TRACEPARENT_HEADER,
        required: false,
        description:
          'W3C Trace Context: kept with the run and handed to its task executions and webhook deliveries; one that does not parse is ignored (docs/api.md#trace-context)',
        schema: { type: 'string', example: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      })(target, key, descriptor);
      ApiHeader({
        name: TRACESTATE_HEADER,
        required: false,
        description: 'W3C Trace Context: read only beside a valid traceparent; at most 32 members, truncated to 512 characters',
        schema: { type: 'string' },
      })(target, key, descriptor);
    },
  ],
);

/** The trace headers of an outgoing request about a run (webhook deliveries); none when the run has no trace. */
export function traceHeaders(trace: RunTrace): Record<string, string> {
  if (!trace.traceparent) return {};
  return trace.tracestate ? { traceparent: trace.traceparent, tracestate: trace.tracestate } : { traceparent: trace.traceparent };
}

/** A run's trace context for a body that carries it (task executions, heartbeat answers). */
export function runTrace(row: Partial<RunTrace>): RunTrace {
  return { traceparent: row.traceparent ?? null, tracestate: row.tracestate ?? null };
}
