import { HttpStatus, Inject, Injectable, Type } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { ModuleRef } from '@nestjs/core';
import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuthenticatedRequest } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { AppError, ErrorCode, ERROR_STATUS } from '../errors/app-error';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { LOGGER } from '../../logging/logger';
import { canonical } from '../validation/canonical';
import { OwnedKey } from './idempotency.context';
import { IdempotencyScope, IdempotencyStore } from './idempotency.store';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
const PRINTABLE_ASCII = /^[\x20-\x7e]{1,255}$/;
// Answers the client may fix and send again with the same key: bad input, limits; 5xx are not kept either.
const NOT_KEPT = new Set<number>([400, 401, 408, 413, 415, 422, 429]);

/**
 * For a successful answer that holds what must not be stored (a secret shown once): what is kept
 * instead, and the answer rebuilt from it on replay, which throws when it can no longer be given.
 * A provider of the route's module, named by `@Idempotent(codec)`.
 */
export interface IdempotentAnswerCodec {
  store(body: unknown): unknown;
  replay(principal: Principal, stored: unknown): Promise<unknown>;
}

interface StoredError {
  error: { code: ErrorCode; message: string; details: AppError['details'] };
}

/** The handler, called with the key the request owns (undefined without an `Idempotency-Key`). */
export type Work = (key: OwnedKey | undefined) => unknown;

/** What `run` is given of the route: its handler (for its success status) and its answer codec. */
export interface IdempotentRoute {
  handler: object;
  codec: Type<IdempotentAnswerCodec> | undefined;
}

/**
 * `Idempotency-Key` (IETF httpapi draft, as Stripe does it): the first request with a key runs and
 * its answer is kept for `IDEMPOTENCY_TTL_HOURS`; the same request again gets that answer with
 * `Idempotent-Replayed: true`; another request with the key is a 422; one while the first runs, a 409.
 * Applied per route with `@Idempotent()`, which hands each request of the route to `run`.
 */
@Injectable()
export class IdempotentRequests {
  constructor(
    private readonly store: IdempotencyStore,
    private readonly moduleRef: ModuleRef,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Runs `work` (the handler) for `req`: at once without a key, else at most once per key, or
   * replays its answer. `work` is given the key the request owns, for its transaction (`keepOutcome`).
   */
  run(req: Request & AuthenticatedRequest, route: IdempotentRoute, work: Work): unknown {
    const key = req.headers['idempotency-key'];
    return key === undefined ? work(undefined) : this.runKeyed(req, key, route, work);
  }

  private async runKeyed(req: Request & AuthenticatedRequest, key: string | string[], route: IdempotentRoute, work: Work): Promise<unknown> {
    const res = req.res!;
    if (typeof key !== 'string' || !PRINTABLE_ASCII.test(key)) {
      throw new AppError('bad_request', `${IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters`);
    }
    if (!req.principal) throw new Error('@Idempotent() needs an authenticated route');

    const scope: IdempotencyScope = {
      organizationId: req.principal.organizationId,
      operation: `${req.method} ${(req.route as { path: string }).path}`,
      key,
    };
    const codec = route.codec ? this.moduleRef.get(route.codec, { strict: false }) : null;
    const claim = await this.store.claim(scope, fingerprint(req));
    switch (claim.kind) {
      case 'reused':
        throw new AppError('idempotency_key_reused', `${IDEMPOTENCY_HEADER} '${key}' was already used with a different request`);
      case 'in_progress':
        res.setHeader('Retry-After', '1');
        throw new AppError('idempotency_key_in_use', `A request with ${IDEMPOTENCY_HEADER} '${key}' is still being processed; retry shortly`);
      case 'replay': {
        if (claim.status >= 400) {
          res.setHeader('Idempotent-Replayed', 'true');
          const { error } = claim.body as StoredError;
          throw new AppError(error.code, error.message, error.details);
        }
        const body = codec ? await codec.replay(req.principal, claim.body) : claim.body;
        res.setHeader('Idempotent-Replayed', 'true');
        res.status(claim.status); // the first answer's, which may differ from the route's (answerWith)
        return body ?? undefined;
      }
      case 'owner': {
        const status = (Reflect.getMetadata(HTTP_CODE_METADATA, route.handler) as number | undefined) ?? (req.method === 'POST' ? 201 : 200);
        const owned: OwnedKey = { scope, owner: claim.owner, status, storedForm: codec ? (body) => codec.store(body) : null, kept: false };
        return this.runOnce(owned, work, res);
      }
    }
  }

  /**
   * Runs the handler with the key it owns, for the code that opens its work transaction, which
   * writes the outcome there (`keepOutcome`). Else (a handler that does not) the answer is kept here,
   * after the work. A kept error is stored, an error that is not frees the key; both only while no
   * outcome was committed with the work.
   */
  private async runOnce(owned: OwnedKey, work: Work, res: Response): Promise<unknown> {
    const { scope, owner } = owned;
    let body: unknown;
    try {
      body = await work(owned);
    } catch (error) {
      const kept = error instanceof AppError && error.status < 500 && !NOT_KEPT.has(error.status);
      const stored: StoredError | null = kept ? { error: { code: error.code, message: error.message, details: error.details } } : null;
      await (stored ? this.store.complete(scope, owner, ERROR_STATUS[stored.error.code], stored) : this.store.release(scope, owner)).catch((err: unknown) =>
        this.logger.warn({ err }, 'could not record the outcome of an idempotent request'),
      );
      throw error;
    }
    if (this.config.faultAfterCommit) await this.fault(this.config.faultAfterCommit, res);
    if (owned.kept) return body;
    // The work is done: a failure to keep the answer must not turn it into an error (the key then expires by its lock).
    await this.store
      .complete(scope, owner, owned.status ?? HttpStatus.OK, owned.storedForm ? owned.storedForm(body) : body)
      .catch((err: unknown) => this.logger.warn({ err }, 'could not record the outcome of an idempotent request'));
    return body;
  }

  /** `FAULT_AFTER_COMMIT` (tests only): the process dies, or the connection drops, between the work's commit and its answer. */
  private fault(mode: 'exit' | 'drop', res: Response): Promise<never> {
    if (mode === 'exit') process.kill(process.pid, 'SIGKILL');
    res.socket?.destroy();
    return new Promise<never>(() => undefined);
  }
}

/** Method, path, sorted query and the canonical JSON body: what makes two requests "the same". */
export function fingerprint(req: Pick<Request, 'method' | 'path' | 'originalUrl' | 'body'>): string {
  const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
  query.sort();
  return createHash('sha256')
    .update(JSON.stringify([req.method, req.path, query.toString(), canonical(req.body)]))
    .digest('hex');
}
