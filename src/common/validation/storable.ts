import type { ValidationIssue } from './validation-error';

// Items reported for one request; a body full of bad strings needs no thousand-item answer.
const MAX_ISSUES = 20;

// A NUL (PostgreSQL text refuses it) or a UTF-16 surrogate without its pair (not valid Unicode, refused as JSON by jsonb).
// eslint-disable-next-line no-control-regex -- the NUL is what this looks for
const UNSTORABLE_STRING = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Strings PostgreSQL cannot store and numbers JSON parsed to ±Infinity (e.g. `1e400`), keys included, with where they are. */
export function findUnstorable(value: unknown, root: (string | number)[]): { nonFinite: ValidationIssue[]; unstorable: ValidationIssue[] } {
  const nonFinite: ValidationIssue[] = [];
  const unstorable: ValidationIssue[] = [];
  // Each step links to its parent: the location is built only for a value reported, so the walk stays linear at any depth.
  type Step = { node: unknown; key: string | number; parent: Step | null };
  const locOf = (step: Step | null, key?: string): (string | number)[] => {
    const loc: (string | number)[] = key === undefined ? [] : [key];
    for (let at = step; at?.parent; at = at.parent) loc.push(at.key);
    return [...root, ...loc.reverse()];
  };
  const badString = (text: string, step: Step, key?: string) => {
    if (unstorable.length >= MAX_ISSUES || !UNSTORABLE_STRING.test(text)) return;
    const what = text.includes('\u0000') ? 'a NUL character (\\u0000)' : 'a lone UTF-16 surrogate';
    unstorable.push({
      loc: locOf(step, key),
      msg: `${key !== undefined ? 'Field name' : 'String'} contains ${what}, which cannot be stored`,
      type: 'string_unstorable',
      input: text,
    });
  };
  const stack: Step[] = [{ node: value, key: '', parent: null }];
  while (stack.length > 0 && nonFinite.length < MAX_ISSUES) {
    const step = stack.pop()!;
    const { node } = step;
    if (typeof node === 'string') badString(node, step);
    else if (typeof node === 'number') {
      if (!Number.isFinite(node))
        nonFinite.push({ loc: locOf(step), msg: 'Number is out of range (not finite once parsed)', type: 'finite_number', input: null });
    } else if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) stack.push({ node: node[i], key: i, parent: step });
    } else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) {
        badString(key, step, key);
        stack.push({ node: child, key, parent: step });
      }
    }
  }
  return { nonFinite, unstorable };
}

/** A string PostgreSQL can store as text and as JSON. */
export function isStorableString(text: string): boolean {
  return !UNSTORABLE_STRING.test(text);
}
