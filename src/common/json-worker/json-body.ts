import type { IncomingMessage } from 'node:http';
import bodyParser from 'body-parser';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { BodyJson } from '../http/raw-json';
import { jsonDeeperThan, MAX_BODY_DEPTH } from '../validation/json-depth';
import type { ValidationIssue } from '../validation/validation-error';
import { MemberText, ParsedBody, parseStrictJson } from './json-work';
import type { JsonWorkers } from './json-workers';

/** What a JSON worker found unstorable in a body it checked; the validation pipe reports it as it would its own walk. */
export const CHECKED_BODY = Symbol('checkedBody');

export interface CheckedBody {
  nonFinite: ValidationIssue[];
  unstorable: ValidationIssue[];
}

/**
 * The JSON body parser: body-parser reads the body (its limit, charset and content encodings), then
 * a body under `JSON_WORKER_MIN_BYTES` is parsed here, a larger one on a JSON worker, which hands
 * object and array members back as `BodyJson` text. Either way: nested deeper than `MAX_BODY_DEPTH`
 * is a 400 before anything parses it, a top-level scalar or invalid JSON a 400, as body-parser's
 * strict JSON parser answers.
 */
export function jsonBodyParser(limitBytes: number, workers: JsonWorkers): RequestHandler {
  const readText = bodyParser.text({ type: 'application/json', limit: limitBytes, defaultCharset: 'utf-8', verify: refuseOtherCharsets });
  return (req: Request, res: Response, next: NextFunction) => {
    readText(req, res, (error?: unknown) => {
      const text: unknown = req.body;
      if (error || typeof text !== 'string') return next(error);
      if (!workers.takes(text.length)) {
        if (jsonDeeperThan(text, MAX_BODY_DEPTH)) return next(tooDeep());
        try {
          req.body = parseStrictJson(text);
        } catch {
          return next(notJson());
        }
        return next();
      }
      workers.parseBody(text).then((parsed) => {
        if ('error' in parsed) return next(parsed.error === 'deep' ? tooDeep() : notJson());
        req.body = bodyOf(parsed);
        next();
      }, next);
    });
  };
}

function bodyOf(parsed: Exclude<ParsedBody, { error: unknown }>): unknown {
  const checked: CheckedBody = { nonFinite: parsed.nonFinite, unstorable: parsed.unstorable };
  if (!parsed.members) return parsed.value;
  // fromEntries defines own properties: a member named `__proto__` stays a member, as JSON.parse makes it.
  const body = Object.fromEntries(
    parsed.members.map(([key, member]) => [key, isMemberText(member) ? new BodyJson(member.text, member.kind, member.canonical) : member]),
  );
  Object.defineProperty(body, CHECKED_BODY, { value: checked });
  return body;
}

// The worker hands back every object or array member as MemberText, and any other member as it is.
function isMemberText(member: unknown): member is MemberText {
  return member !== null && typeof member === 'object';
}

/** The charsets of JSON (RFC 8259 allows only UTF-8; UTF-16 is still taken): anything else is a 415 before the body is decoded. */
function refuseOtherCharsets(_req: IncomingMessage, _res: unknown, _body: Buffer, encoding: string): void {
  if (!/^utf-?(8|16|16le|16be)$/i.test(encoding)) throw clientError(415, `Unsupported charset "${encoding.slice(0, 40).toUpperCase()}"`, 'charset.unsupported');
}

const tooDeep = () => clientError(400, `Request body is nested too deeply (more than ${MAX_BODY_DEPTH} levels)`, 'entity.too.deep');
const notJson = () => clientError(400, 'Request body is not valid JSON', 'entity.parse.failed');

/** In the shape of body-parser's own errors (http-errors), which the exception filter answers in the envelope. */
function clientError(status: number, message: string, type: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, expose: true, type });
}
