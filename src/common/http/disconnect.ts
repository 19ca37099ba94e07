import type { EventEmitter } from 'node:events';
import { draining } from './drain';

/**
 * Aborts when the response closes (sent, or the client went away) or the process starts shutting
 * down: held requests stop waiting at once. A plain listener on `draining`, removed on close:
 * `AbortSignal.any` would keep every composite signal registered on the process-wide one.
 */
export function disconnectSignal(response: Pick<EventEmitter, 'once'>): AbortSignal {
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (draining.aborted) abort();
  else draining.addEventListener('abort', abort, { once: true });
  response.once('close', () => {
    draining.removeEventListener('abort', abort);
    abort();
  });
  return controller.signal;
}
