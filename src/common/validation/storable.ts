import type { ValidationIssue } from './validation-error';

// Items reported for one request; a body full of bad strings needs no thousand-item answer.
const MAX_ISSUES = 20;

// A NUL (PostgreSQL text refuses it) or a UTF-16 surrogate without its pair (not valid Unicode, refused as JSON by jsonb).
const UNSTORABLE_STRING = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Strings PostgreSQL cannot store and numbers JSON parsed to ±Infinity (e.g. `1e400`), keys included, with where they are. */
export function findUnstorable(value: unknown, root: (string | number)[]): { nonFinite: ValidationIssue[]; unstorable: ValidationIssue[] } {
  const nonFinite: ValidationIssue[] = [];
  const unstorable: ValidationIssue[] = [];
  const badString = (text: string, loc: (string | number)[], key: boolean) => {
    if (unstorable.length >= MAX_ISSUES || !UNSTORABLE_STRING.test(text)) return;
    const what = text.includes('\u0000') ? 'a NUL character (\\u0000)' : 'a lone UTF-16 surrogate';
    unstorable.push({ loc, msg: `${key ? 'Field name' : 'String'} contains ${what}, which cannot be stored`, type: 'string_unstorable', input: text });
  };
  const stack: [unknown, (string | number)[]][] = [[value, root]];
  while (stack.length > 0 && nonFinite.length < MAX_ISSUES) {
    const [node, loc] = stack.pop()!;
    if (typeof node === 'string') badString(node, loc, false);
    else if (typeof node === 'number') {
      if (!Number.isFinite(node)) nonFinite.push({ loc, msg: 'Number is out of range (not finite once parsed)', type: 'finite_number', input: null });
    } else if (Array.isArray(node)) {
      node.forEach((item, i) => stack.push([item, [...loc, i]]));
    } else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) {
        badString(key, [...loc, key], true);
        stack.push([child, [...loc, key]]);
      }
    }
  }
  return { nonFinite, unstorable };
}

/** A string PostgreSQL can store as text and as JSON. */
export function isStorableString(text: string): boolean {
  return !UNSTORABLE_STRING.test(text);
}
