import { Transform } from 'class-transformer';

const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true,
  t: true,
  yes: true,
  y: true,
  on: true,
  '1': true,
  false: false,
  f: false,
  no: false,
  n: false,
  off: false,
  '0': false,
};

/** The boolean words the reference server accepts; anything else stays as given and fails `@IsBoolean`. */
export function parseBooleanWord(value: unknown): unknown {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return value;
  return BOOLEAN_WORDS[value.toLowerCase()] ?? value;
}

export const QueryBoolean = () => Transform(({ value }) => parseBooleanWord(value));

/** Repeated query keys (`?status=a&status=b`) and single ones alike become arrays. */
export const QueryArray = () => Transform(({ value }) => (value === undefined || value === null ? value : Array.isArray(value) ? value : [value]));

/** Integers in a query string; a non-integer stays as given and fails `@IsInt`. */
export const QueryInt = () => Transform(({ value }) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value));

/** Repeated integer query keys (`?v=1&v=2`) become an array of numbers; a non-integer stays as given and fails `@IsInt`. */
export const QueryIntArray = () =>
  Transform(({ value }) =>
    value === undefined || value === null
      ? value
      : (Array.isArray(value) ? value : [value]).map((v: unknown) => (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v)),
  );
