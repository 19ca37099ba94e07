import { buildMessage, ValidateBy, ValidationOptions } from 'class-validator';

export const TAG_TYPE_MAX_LENGTH = 100;
export const TAG_MAX_LENGTH = 200;
/** Active tags one task of a flow execution may carry, and tags one request may send (422 beyond). */
export const MAX_TASK_TAGS = 100;

export interface ParsedTag {
  tag_type: string;
  tag: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * `key:value`, split at the first colon as the executions list's `tags` filter does, or an object
 * with `tag_type` and `tag` (a FlowTaskTagAPI as GET returns it, so that a fetched task execution
 * can be sent back with PUT). `null` when malformed or too long for the columns.
 */
export function parseTag(value: unknown): ParsedTag | null {
  if (typeof value === 'string') {
    const at = value.indexOf(':');
    return at < 0 ? null : checked(value.slice(0, at), value.slice(at + 1));
  }
  if (isRecord(value) && typeof value.tag_type === 'string' && typeof value.tag === 'string') {
    return checked(value.tag_type, value.tag);
  }
  return null;
}

/** Validated tags without repeats, first occurrence first (one upsert may not touch a row twice). */
export function parseTags(values: readonly unknown[]): ParsedTag[] {
  const seen = new Map<string, ParsedTag>();
  for (const value of values) {
    const tag = parseTag(value);
    if (!tag) throw new Error(`unvalidated tag ${JSON.stringify(value)}`);
    const key = JSON.stringify([tag.tag_type, tag.tag]);
    if (!seen.has(key)) seen.set(key, tag);
  }
  return [...seen.values()];
}

function checked(tagType: string, tag: string): ParsedTag | null {
  if (tagType.length < 1 || tagType.length > TAG_TYPE_MAX_LENGTH) return null;
  if (tag.length < 1 || tag.length > TAG_MAX_LENGTH) return null;
  return { tag_type: tagType, tag };
}

export const IsTaskTag = (options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'isTaskTag',
      validator: {
        validate: (value) => parseTag(value) !== null,
        defaultMessage: buildMessage(
          (each) => `${each}$property must be 'key:value' strings (key 1-${TAG_TYPE_MAX_LENGTH}, value 1-${TAG_MAX_LENGTH} characters)`,
          options,
        ),
      },
    },
    options,
  );
