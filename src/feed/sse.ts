import type { Request, Response } from 'express';
import { draining } from '../common/http/drain';
import type { FlowEventDto } from './dto/flow-event.dto';
import type { EventSink } from './feed.service';

/** Opens a Server-Sent Events response; the sink's signal aborts when the client disconnects or the process drains. */
export function openEventStream(req: Request, res: Response): EventSink {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  // A shutting-down process ends its streams; clients reconnect elsewhere with Last-Event-ID.
  const closed = AbortSignal.any([controller.signal, draining]);
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
    send: (event: FlowEventDto) => res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`),
    keepAlive: () => res.write(': keep-alive\n\n'),
    end: () => res.end(),
    closed,
  };
}
