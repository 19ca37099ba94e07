/** to_char's pattern for timestamps sent as ISO 8601 UTC text with microseconds, so that a value read back filters exactly. */
export const ISO_TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

/** A day (a date, or a timestamp truncated to one) as ISO 8601 text. */
export const ISO_DATE_FORMAT = 'YYYY-MM-DD';
export const isoDate = (column: string): string => `to_char(${column}, '${ISO_DATE_FORMAT}')`;

/** A timestamptz column as ISO 8601 UTC text with microseconds. */
export const isoText = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', '${ISO_TIMESTAMP_FORMAT}')`;

/** to_char's pattern for what `Date.prototype.toISOString` writes of a timestamp pg read (milliseconds, the microseconds cut off, as both do). */
export const ISO_MILLIS_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"';

/** A timestamptz column as the text `toISOString` makes of it, for JSON PostgreSQL writes in place of a response built here. */
export const isoMillisText = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', '${ISO_MILLIS_FORMAT}')`;

/** `('a', 'b')`: a list for `IN`, written from the TypeScript constant that owns it (never empty: `IN ()` is no SQL). */
export function sqlList(values: readonly string[]): string {
  if (values.length === 0) throw new Error('sqlList: an empty list');
  return `(${values.map((value) => `'${value.replace(/'/g, "''")}'`).join(', ')})`;
}
