/** Nesting of arrays and objects a JSON body may have. */
export const MAX_BODY_DEPTH = 64;

const [OPEN_ARRAY, OPEN_OBJECT, CLOSE_ARRAY, CLOSE_OBJECT, QUOTE, BACKSLASH] = [0x5b, 0x7b, 0x5d, 0x7d, 0x22, 0x5c];

/**
 * Whether the JSON text nests arrays and objects deeper than `limit`: one pass over its characters,
 * before `JSON.parse` runs (which itself takes 250 ms on 1 MB of `[`) and before anything recursive
 * (the idempotency fingerprint, class-transformer, Ajv) sees the value. Brackets inside strings do not count.
 */
export function jsonDeeperThan(text: Buffer | string, limit: number): boolean {
  const code = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i];
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = code(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}
