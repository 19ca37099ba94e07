import { types as pgTypes } from 'pg';

/** pg's parsers of the column types whose values are worth keeping as text: json, jsonb, timestamptz. */
const PARSED_TYPES = { json: 114, jsonb: 3802, timestamptz: 1184 };
const JSON_TYPES = new Set([PARSED_TYPES.json, PARSED_TYPES.jsonb]);

export interface JsonWork<T> {
  result: T;
  /** Texts of at least `minChars` parsed, by `JSON.parse` or by pg's json and jsonb column parsers (which hold their own reference to it). */
  large: number;
  /** Calls of `JSON.stringify`, which grow with a value's size when something walks it (raw-json.ts's `stringify` calls it on each key and leaf). */
  stringified: number;
  /** Values pg parsed from json, jsonb and timestamptz columns. */
  columnsParsed: number;
}

/**
 * The JSON work done on this thread (the in-process server's event loop, in an e2e test) while
 * `work` runs. Read answers as text (`asText`): the test client's own parsing would count.
 */
export async function jsonWorkHere<T>(minChars: number, work: () => Promise<T>): Promise<JsonWork<T>> {
  const { parse, stringify } = JSON;
  const columnParsers = Object.values(PARSED_TYPES).map((oid) => [oid, pgTypes.getTypeParser(oid, 'text')] as const);
  const counts = { large: 0, stringified: 0, columnsParsed: 0 };
  JSON.parse = function (text: string, reviver?: Parameters<typeof parse>[1]) {
    if (typeof text === 'string' && text.length >= minChars) counts.large++;
    return parse(text, reviver);
  } as typeof JSON.parse;
  JSON.stringify = function (...args: Parameters<typeof stringify>) {
    counts.stringified++;
    return stringify(...args);
  } as typeof JSON.stringify;
  for (const [oid, parser] of columnParsers) {
    pgTypes.setTypeParser(oid, 'text', (text: string) => {
      counts.columnsParsed++;
      if (JSON_TYPES.has(oid) && text.length >= minChars) counts.large++;
      return (parser as (text: string) => unknown)(text);
    });
  }
  try {
    const result = await work();
    return { result, ...counts };
  } finally {
    JSON.parse = parse;
    JSON.stringify = stringify;
    for (const [oid, parser] of columnParsers) pgTypes.setTypeParser(oid, 'text', parser as (text: string) => unknown);
  }
}

/** Reads an answer as text (superagent's `.buffer(true).parse(asText)`): the test client's own JSON.parse would count as the server's. */
export function asText(res: import('superagent').Response, done: (error: Error | null, text: string) => void): void {
  let text = '';
  const stream = res as unknown as NodeJS.ReadableStream;
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  stream.on('end', () => done(null, text));
}
