import type { EventEmitter } from 'node:events';
import { draining } from './drain';

/**
 * Aborts when the response closes (sent, or the client went away) or the process starts shutting
 * down: held requests stop waiting at once.
 */
export function disconnectSignal(response: Pick<EventEmitter, 'once'>): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => controller.abort());
  return AbortSignal.any([controller.signal, draining]);
}
