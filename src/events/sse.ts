import type { Request, Response } from 'express';
import type { FlowEventDto } from './dto/flow-event.dto';
import type { EventSink } from './events.service';

/** Opens a Server-Sent Events response; the sink's signal aborts when the client disconnects. */
export function openEventStream(req: Request, res: Response): EventSink {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  req.socket.setTimeout(0);
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  return {
    send: (event: FlowEventDto) => res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`),
    keepAlive: () => res.write(': keep-alive\n\n'),
    end: () => res.end(),
    closed: controller.signal,
  };
}
