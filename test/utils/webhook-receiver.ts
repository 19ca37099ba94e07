import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually } from './eventually';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** How to answer the n-th request (0-based): a status, or `hang` to never answer (until `close`). */
export type Answer = (request: Received, n: number) => number | 'hang';

/** A real HTTP endpoint on 127.0.0.1 that records what webhooks POST to it. */
export class WebhookReceiver {
  readonly received: Received[] = [];
  /** The most requests that were open at once. */
  maxOpen = 0;
  private open = 0;
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    public answer: Answer,
  ) {}

  static async start(answer: Answer = () => 200): Promise<WebhookReceiver> {
    let receiver!: WebhookReceiver;
    const server = createServer((req, res) => receiver.handle(req, res));
    receiver = new WebhookReceiver(server, answer);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** Waits (bounded) until `count` requests have arrived; fails with what did arrive otherwise. */
  async waitFor(count: number, timeoutMs = 30_000): Promise<Received[]> {
    await eventually(
      () => this.received.length,
      (n) => n >= count,
      timeoutMs,
    ).catch(() => {
      throw new Error(`expected ${count} requests, got ${this.received.length}`);
    });
    return this.received.slice(0, count);
  }

  /** Answers every request held by `hang` with `status`. */
  release(status = 200): void {
    for (const res of this.hanging) res.writeHead(status).end();
    this.hanging.clear();
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.maxOpen = Math.max(this.maxOpen, ++this.open);
    res.once('close', () => this.open--);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const answer = this.answer(request, this.received.length);
      this.received.push(request);
      if (answer === 'hang') this.hanging.add(res);
      else if (answer >= 300 && answer < 400) res.writeHead(answer, { location: this.url('/elsewhere') }).end();
      else res.writeHead(answer).end('ok');
    });
  }
}
