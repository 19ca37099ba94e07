import type { EntityManager } from 'typeorm';
import { AppError } from '../errors/app-error';
import { stringify } from '../http/raw-json';
import type { IdempotencyScope } from './idempotency.store';

/** What `store` keeps of a successful answer (see IdempotentAnswerCodec); the answer itself when absent. */
export type StoredForm = (body: unknown) => unknown;

/**
 * The key a running request owns, for the code that opens the request's work transaction: it
 * writes the outcome there (`keepOutcome`), so the work and its answer commit together or not at all.
 * The handler receives it as an argument (`@OwnedIdempotencyKey()`) and passes it down. Not an
 * `AsyncLocalStorage`: on Node 20 and 22 its first `run` turns on async hooks for every promise of
 * the process, for good, and after one keyed request a GET by id cost 6-10% more CPU
 * (docs/benchmarks.md, "Idempotency without AsyncLocalStorage").
 */
export interface OwnedKey {
  scope: IdempotencyScope;
  owner: string;
  /** The success status of the route (201, 204, ...). */
  status: number;
  storedForm: StoredForm | null;
  /** Set once the outcome is written in the work's transaction: the interceptor then writes nothing after. */
  kept: boolean;
}

/**
 * The request answers with another success status than its route's (a bulk action's dry run: 200,
 * not 202): the outcome kept for its key, and so its replay, say so too. No-op without a key.
 */
export function answerWith(key: OwnedKey | undefined, status: number): void {
  if (key) key.status = status;
}

/** The key was taken over by a retry after its lease ran out: this request's work must not commit. */
export function keyTakenOver(key: OwnedKey): AppError {
  return new AppError(
    'idempotency_key_in_use',
    `The request with Idempotency-Key '${key.scope.key}' ran past its lease and a retry took the key over; nothing was changed by this one`,
  );
}

const KEEP = `
  UPDATE idempotency_keys SET response_status = $5, response_body = $6::jsonb
   WHERE organization_id = $1 AND operation = $2 AND key = $3 AND owner = $4`;

/**
 * Writes the outcome of the request's `key` (its success status and `body`, in its stored form) in
 * the transaction `m` of its work, as its last write: a replay then answers it whatever happens
 * after COMMIT (a crash, a lost answer). No-op without a key. Throws (so the work rolls back) when
 * the key is no longer this request's: a retry took it over after its lease ran out.
 */
export async function keepOutcome(m: EntityManager, key: OwnedKey | undefined, body?: unknown): Promise<void> {
  if (!key) return;
  const stored = key.storedForm ? key.storedForm(body) : body;
  const [, affected]: [unknown, number] = await m.query(KEEP, [
    key.scope.organizationId,
    key.scope.operation,
    key.scope.key,
    key.owner,
    key.status,
    stored === undefined ? null : stringify(stored),
  ]);
  if (affected !== 1) throw keyTakenOver(key);
  key.kept = true;
}
