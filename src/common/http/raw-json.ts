import { randomBytes } from 'node:crypto';
import type { Express, Response } from 'express';

// While `stringify` runs, a RawJson that JSON.stringify meets stands for a marker naming its text:
// NUL, a per-process nonce, its index, NUL (PostgreSQL text never holds a NUL, and nobody can guess
// the nonce). In JSON text the marker is a string with its NULs escaped.
let splicing: string[] | null = null;
// Likewise, while `spliceBytes` runs, a RawJsonBytes stands for a marker naming its bytes (`b` before the index).
let splicingBytes: (readonly Buffer[])[] | null = null;
const NONCE = randomBytes(12).toString('hex');
const MARKED = new RegExp(`"\\\\u0000${NONCE}:(\\d+)\\\\u0000"`, 'g');
const BYTES_MARKED = new RegExp(`"\\\\u0000${NONCE}b(\\d+)\\\\u0000"`);

/**
 * JSON text as PostgreSQL handed it back (`column::text`), spliced into a response as is: a 1 MiB
 * `input` is neither parsed by the driver nor serialized again (docs/api.md#event-loop-budget).
 * Anything else that serializes it (the idempotency store, a log) gets the value through `toJSON`.
 */
export class RawJson {
  constructor(readonly text: string) {}

  toJSON(): unknown {
    if (splicing) return `\u0000${NONCE}:${splicing.push(this.text) - 1}\u0000`;
    return JSON.parse(this.text);
  }

  /** As a query parameter (pg's custom-type hook): the text as is, for PostgreSQL to parse. */
  toPostgres(): string {
    return this.text;
  }
}

/**
 * An object or array member of a large request body, parsed and checked on a JSON worker
 * (src/common/json-worker): its compact JSON text, its JSON type, and its key-sorted form for the
 * idempotency fingerprint. A DTO member marked `@JsonText()` receives it as is; any other member
 * gets the parsed value.
 */
export class BodyJson extends RawJson {
  constructor(
    text: string,
    readonly kind: 'object' | 'array',
    readonly canonical: string,
  ) {
    super(text);
  }
}

/**
 * JSON as the UTF-8 bytes PostgreSQL sent (src/database/copy-query.ts), never decoded: a response
 * that holds it at its top or one object level down is sent as bytes, spliced around it
 * (`stringifySliced`). Anything else that serializes it gets its value, as from a RawJson.
 */
export class RawJsonBytes {
  constructor(readonly bytes: readonly Buffer[]) {}

  toJSON(): unknown {
    if (splicingBytes) return `\u0000${NONCE}b${splicingBytes.push(this.bytes) - 1}\u0000`;
    return new RawJson(Buffer.concat(this.bytes).toString()).toJSON();
  }
}

/** `text` from a `::text` column (null stays null) as a value to splice. */
export const rawJson = (text: string | null): RawJson | null => (text === null ? null : new RawJson(text));

/** Longest stretch of serializing before the response yields the event loop to other requests. */
export const SLICE_MS = 4;
/** Arrays shorter than this are serialized in one go, unless an item holds raw JSON (a few large items). */
const SLICED_ARRAY = 64;

/**
 * JSON.stringify with each `RawJson`'s text spliced in where it stands: JSON.stringify's own
 * (native) serialization, about ten times faster than walking the value in JavaScript, then one
 * pass over the text that replaces the markers.
 */
export function stringify(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value instanceof RawJsonBytes) return Buffer.concat(value.bytes).toString();
  return serialize(value, null);
}

/** JSON.stringify with RawJson texts spliced in, and RawJsonBytes as markers into `bytes` (their text when null). */
function serialize(value: unknown, bytes: (readonly Buffer[])[] | null): string {
  const texts: string[] = [];
  // A toJSON that calls stringify in turn gets its own markers.
  const outerTexts = splicing;
  const outerBytes = splicingBytes;
  splicing = texts;
  splicingBytes = bytes;
  let out: string | undefined;
  try {
    out = JSON.stringify(value);
  } finally {
    splicing = outerTexts;
    splicingBytes = outerBytes;
  }
  if (out === undefined) return 'null';
  return texts.length === 0 ? out : out.replace(MARKED, (_, i: string) => texts[Number(i)]);
}

// Work paused by `nextSlice`, oldest first; one resumes per turn of the event loop.
const paused: (() => void)[] = [];

function resumeOne(): void {
  const resume = paused.shift()!;
  if (paused.length > 0) setImmediate(resumeOne);
  resume();
}

/**
 * Resolves on a later turn of the event loop, once the I/O that came in meanwhile has been served.
 * Everything paused here takes turns, one slice per turn (round robin): ten pages being serialized
 * hold the loop for one slice between two polls, not for ten back to back as ten `setImmediate`s
 * queued in the same turn would.
 */
export function nextSlice(): Promise<void> {
  return new Promise((resolve) => {
    paused.push(resolve);
    if (paused.length === 1) setImmediate(resumeOne);
  });
}

/**
 * The same text as `stringify`, produced in slices of at most about SLICE_MS that yield to the event
 * loop (`nextSlice`) in between: a page of 1,000 rows never holds the process for its whole
 * serialization. A `RawJsonBytes` at the top, one object level down, or in an item of an array there
 * that holds one as a member (a page of flows, each with its definition; then anywhere in that item)
 * stays bytes: the answer is then a list of Buffers to send in order, that text never decoded,
 * encoded nor copied here.
 */
export async function stringifySliced(value: unknown): Promise<string | Buffer[]> {
  const parts: (string | Buffer)[] = [];
  await walk(value, { since: performance.now() }, parts);
  if (parts.every((part) => typeof part === 'string')) return parts.join('');
  // Each run of text between two spliced values as one Buffer.
  const buffers: Buffer[] = [];
  let text = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      text += part;
      continue;
    }
    if (text) buffers.push(Buffer.from(text));
    text = '';
    buffers.push(part);
  }
  if (text) buffers.push(Buffer.from(text));
  return buffers;
}

async function walk(value: unknown, clock: { since: number }, out: (string | Buffer)[]): Promise<void> {
  if (value instanceof RawJsonBytes) {
    out.push(...value.bytes);
  } else if (Array.isArray(value) && slicedArray(value)) {
    // Items one at a time (a few large ones too), yielding between them past a slice; an item holding bytes is walked so that they stay bytes.
    let text = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) text += ',';
      const item = value[i];
      if (holdsBytes(item)) {
        out.push(text);
        text = '';
        await walk(item, clock, out);
      } else {
        text += item === undefined ? 'null' : stringify(item);
      }
      if (performance.now() - clock.since > SLICE_MS) {
        await nextSlice();
        clock.since = performance.now();
      }
    }
    out.push(`${text}]`);
  } else if (isPlainObject(value)) {
    if (!slicedMember(value)) return spliceBytes(value, out);
    // A member needs slicing itself (a long array): members serialized in place, bytes pushed as
    // they are, and that member walked.
    let text = '{';
    for (const key of Object.keys(value)) {
      const v = value[key];
      if (v === undefined || typeof v === 'function') continue;
      text += `${text === '{' ? '' : ','}${JSON.stringify(key)}:`;
      if (v instanceof RawJsonBytes) {
        out.push(text, ...v.bytes);
        text = '';
      } else if (needsSlicing(v)) {
        out.push(text);
        text = '';
        await walk(v, clock, out);
      } else {
        text += typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? JSON.stringify(v) : stringify(v);
      }
    }
    out.push(`${text}}`);
  } else {
    out.push(stringify(value));
  }
}

/**
 * A plain object whose members need no slicing but may hold bytes (an item of a page of flows):
 * JSON.stringify's own serialization of it, each RawJsonBytes a marker, then the text cut at the
 * markers and the bytes pushed between the pieces. One native call per object, where serializing
 * member by member allocated several times the object's text.
 */
function spliceBytes(value: Record<string, unknown>, out: (string | Buffer)[]): void {
  const held: (readonly Buffer[])[] = [];
  const text = serialize(value, held);
  if (held.length === 0) {
    out.push(text);
    return;
  }
  // With its capturing group, split keeps each marker's index between the pieces around it.
  const pieces = text.split(BYTES_MARKED);
  for (let i = 0; i < pieces.length; i++) {
    if (i % 2 === 1) out.push(...held[Number(pieces[i])]);
    else if (pieces[i] !== '') out.push(pieces[i]);
  }
}

/** Whether a member of `value` needs serializing in slices of its own (a long array, spliced text). */
function slicedMember(value: Record<string, unknown>): boolean {
  for (const key in value) {
    const v = value[key];
    if (!(v instanceof RawJsonBytes) && needsSlicing(v)) return true;
  }
  return false;
}

/** An array serialized item by item: a long one, or one that holds raw JSON (a few large items). */
function slicedArray(value: unknown[]): boolean {
  return value.length >= SLICED_ARRAY || value.some((item) => isRaw(item) || hasRaw(item));
}

/** Bytes to send as they are: a RawJsonBytes, or a plain object with one as a member. */
function holdsBytes(item: unknown): boolean {
  if (item instanceof RawJsonBytes) return true;
  if (!isPlainObject(item)) return false;
  for (const key in item) if (item[key] instanceof RawJsonBytes) return true;
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** Whether a body must take the sliced path: a long array, or spliced JSON, at its top or one level down. */
function needsSlicing(body: unknown): boolean {
  if (isRaw(body)) return true;
  if (Array.isArray(body)) return slicedArray(body);
  if (!isPlainObject(body)) return false;
  for (const key in body) {
    const v = body[key];
    if (isRaw(v) || (Array.isArray(v) && slicedArray(v))) return true;
  }
  return false;
}

function hasRaw(item: unknown): boolean {
  if (!isPlainObject(item)) return false;
  for (const key in item) if (isRaw(item[key])) return true;
  return false;
}

function isRaw(value: unknown): boolean {
  return value instanceof RawJson || value instanceof RawJsonBytes;
}

/**
 * Replaces `res.json` of this Express app: bodies holding `RawJson` or long arrays are serialized by
 * `stringifySliced` and sent when done (Nest does not wait for `res.json`); any other body takes
 * Express's own path. Headers and status are set as Express would (Content-Type, Content-Length).
 */
export function installSlicedJson(app: Express): void {
  const original = app.response.json;
  app.response.json = function json(this: Response, body: unknown): Response {
    if (!needsSlicing(body)) return original.call(this, body);
    stringifySliced(body).then(
      (text) => {
        if (this.headersSent || this.destroyed) return;
        if (!this.get('Content-Type')) this.set('Content-Type', 'application/json; charset=utf-8');
        if (typeof text === 'string') {
          this.send(text);
          return;
        }
        // The parts go out in one write, as they are (Node sends no body for HEAD).
        this.setHeader(
          'Content-Length',
          text.reduce((sum, part) => sum + part.length, 0),
        );
        this.cork();
        for (const part of text) this.write(part);
        this.end();
      },
      () => {
        // Only a value JSON cannot hold (a BigInt, a cycle) gets here: a bug, answered as any other.
        if (this.headersSent || this.destroyed) return;
        const error = { message: 'Internal server error', code: 'internal_error', details: null };
        this.status(500)
          .type('application/json')
          .send(JSON.stringify({ error, request_id: this.getHeader('X-Request-ID') ?? null }));
      },
    );
    return this;
  };
}
