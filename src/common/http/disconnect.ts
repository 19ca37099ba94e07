import type { EventEmitter } from 'node:events';

/** Aborts when the response closes (sent, or the client went away): held requests stop waiting at once. */
export function disconnectSignal(response: Pick<EventEmitter, 'once'>): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => controller.abort());
  return controller.signal;
}
