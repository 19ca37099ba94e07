import type { Request, Response } from 'express';
import { draining } from '../common/http/drain';
import type { FeedEvent } from './dto/flow-event.dto';
import type { EventSink } from './feed.service';

/**
 * Opens a Server-Sent Events response; the sink's signal aborts when the client disconnects, the
 * process drains or `revoked` aborts (the credential ended), and the response ends with it.
 */
export function openEventStream(req: Request, res: Response, revoked: AbortSignal): EventSink {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  // A shutting-down process ends its streams; clients reconnect elsewhere with Last-Event-ID.
  const closed = AbortSignal.any([controller.signal, draining, revoked]);
  req.socket.setTimeout(0);
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  if (closed.aborted) res.end();
  else closed.addEventListener('abort', () => res.end(), { once: true });
  return {
    send: (event: FeedEvent) => res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${event.text}\n\n`),
    keepAlive: () => res.write(': keep-alive\n\n'),
    drained: () =>
      new Promise<void>((resolve) => {
        if (closed.aborted || !res.writableNeedDrain) return resolve();
        const done = () => {
          res.off('drain', done);
          closed.removeEventListener('abort', done);
          resolve();
        };
        res.on('drain', done);
        closed.addEventListener('abort', done, { once: true });
      }),
    end: () => res.end(),
    closed,
  };
}
