import { setMaxListeners } from 'node:events';
import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

// The process's shutdown: one per process, since a signal is. Every held request listens to it.
const controller = new AbortController();
setMaxListeners(0, controller.signal);

/** Aborted once the process starts shutting down: readiness fails, held requests answer now. */
export const draining: AbortSignal = controller.signal;

const SWEEP_MS = 25;

/** While draining, every response closes its connection, so a busy keep-alive client cannot hold the process. */
export function closeConnectionsWhileDraining(_req: Request, res: Response, next: NextFunction): void {
  if (draining.aborted) res.setHeader('Connection', 'close');
  next();
}

/**
 * Stops accepting connections, closes idle keep-alive connections at once and each busy one after its
 * response, and wakes held requests (long-polls, event streams) so that they answer. Resolves true once
 * every connection is closed, or false after `timeoutMs`, having cut whatever was left.
 */
export async function drainHttpServer(server: Server, timeoutMs: number): Promise<boolean> {
  controller.abort();
  const closed = new Promise<boolean>((resolve) => server.close(() => resolve(true)));
  server.closeIdleConnections();
  // A request that started before the drain answers with keep-alive; its connection is idle right after.
  const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)));
  const drained = await Promise.race([closed, expired]);
  clearInterval(sweep);
  clearTimeout(timer);
  if (!drained) server.closeAllConnections();
  return drained;
}
