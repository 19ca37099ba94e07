import type { NextFunction, Request, Response } from 'express';
import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

// The package's default PRNG asks the OS for one byte per character; draw from a pooled buffer instead.
const pool = Buffer.alloc(4096);
let offset = pool.length;
const ulid = monotonicFactory(() => {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  return pool[offset++] / 256;
});

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

type WithId = Request & { id?: string };

/** First middleware of all: every response, errors of the body parser included, carries the id. */
export function requestIdMiddleware(req: Request, res: Response, next: NextFunction): void {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : ulid();
  (req as WithId).id = id;
  res.setHeader('X-Request-ID', id);
  next();
}

export const newRequestId = (): string => ulid();

export function requestIdOf(req: Request): string {
  return (req as WithId).id ?? ulid();
}
