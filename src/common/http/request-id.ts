import type { NextFunction, Request, Response } from 'express';
import { ulid } from 'ulid';

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

export function requestIdOf(req: Request): string {
  return (req as WithId).id ?? ulid();
}
