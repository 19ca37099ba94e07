const JSON_TEXT_MEMBERS = Symbol('jsonTextMembers');

/**
 * A free-form body member its handler takes as JSON text when the body was parsed on a JSON
 * worker (`BodyJson`, for a body of `JSON_WORKER_MIN_BYTES` or more): it stores or validates the
 * text off the event loop and never needs the value. Any other member of such a body is parsed.
 */
export function JsonText(): PropertyDecorator {
  return (target, key) => {
    const members = new Set<string | symbol>(Reflect.getMetadata(JSON_TEXT_MEMBERS, target.constructor) as Set<string> | undefined);
    members.add(key);
    Reflect.defineMetadata(JSON_TEXT_MEMBERS, members, target.constructor);
  };
}

export function jsonTextMembers(metatype: unknown): ReadonlySet<string | symbol> {
  return (typeof metatype === 'function' && (Reflect.getMetadata(JSON_TEXT_MEMBERS, metatype) as Set<string> | undefined)) || NONE;
}

const NONE: ReadonlySet<string> = new Set();
