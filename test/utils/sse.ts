import { request, IncomingMessage, ClientRequest } from 'node:http';
import { eventually } from './eventually';

export interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A Server-Sent Events client over plain HTTP that collects what arrives, for tests. */
export class SseClient {
  readonly messages: SseMessage[] = [];
  status = 0;
  headers: IncomingMessage['headers'] = {};
  body = '';
  private buffer = '';
  private req: ClientRequest;
  readonly opened: Promise<void>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  private markEnded: () => void = () => undefined;

  constructor(baseUrl: string, path: string, headers: Record<string, string>) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    this.opened = new Promise((resolve, reject) => {
      this.req = request(`${baseUrl}${path}`, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.receive(chunk));
        res.on('end', () => this.markEnded());
        res.on('error', () => undefined);
        resolve();
      });
      this.req.on('error', reject);
      this.req.end();
    });
    this.opened.catch(() => undefined); // closed before any answer (a held request): not a failure
  }

  /** Resolves once at least `n` events (messages with data) have arrived. */
  async events(n: number, timeoutMs = 10_000): Promise<SseMessage[]> {
    await eventually(
      () => this.dataMessages().length,
      (count) => count >= n,
      timeoutMs,
    ).catch(() => {
      throw new Error(`only ${this.dataMessages().length} of ${n} events arrived; got ${JSON.stringify(this.messages)}`);
    });
    return this.dataMessages();
  }

  dataMessages(): SseMessage[] {
    return this.messages.filter((m) => m.data !== undefined);
  }

  close(): void {
    this.req.destroy();
  }

  private receive(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const message: SseMessage = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) message.comment = line.slice(1).trim();
        else {
          const at = line.indexOf(':');
          const field = line.slice(0, at) as 'id' | 'event' | 'data';
          message[field] = line.slice(at + 1).replace(/^ /, '');
        }
      }
      this.messages.push(message);
    }
  }
}
