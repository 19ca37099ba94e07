import type { EventEmitter } from 'node:events';

/**
 * The load generator, a child process of run.ts (forked, commands over IPC), so that autocannon
 * never shares an event loop with the orchestrator's sampling. One command = one autocannon run.
 */

export interface LoadRequest {
  path: string;
  headers?: Record<string, string>;
  /** Overrides the command's method and body for this request. */
  method?: 'GET' | 'POST' | 'PATCH';
  body?: string;
}

export interface LoadCommand {
  id: number;
  url: string;
  connections: number;
  seconds: number;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Rotated through, one per request, across all connections. */
  requests: LoadRequest[];
  /** Requests per second over all connections (an open-loop client); unset, as fast as answered. */
  rate?: number;
}

export interface LoadResult {
  seconds: number;
  responses: number;
  requestsPerSecond: number;
  /** Latency percentiles in ms, from every response (autocannon's own histogram has 1 ms resolution); null with no response. */
  p50: number | null;
  p99: number | null;
  statusCodes: Record<string, number>;
  connectionErrors: number;
  timeouts: number;
}

export type LoadReply = { id: number; result: LoadResult } | { id: number; error: string };

// autocannon ships no typings; this is the part used here.
type Autocannon = (
  options: Record<string, unknown>,
  done: (error: Error | null, result: { duration: number; errors: number; timeouts: number }) => void,
) => EventEmitter;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon: Autocannon = require('autocannon');

// Where each list of requests left off: a warm-up and its measured run go on through one rotation, so requests that
// can be made once each (a PATCH per run) are not sent twice.
const rotations = new Map<string, number>();

function run(command: LoadCommand): Promise<LoadResult> {
  const rotation = `${command.requests.length} ${command.requests[0]?.path}`;
  let next = rotations.get(rotation) ?? 0;
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: command.url,
        connections: command.connections,
        duration: command.seconds,
        method: command.method,
        headers: command.headers,
        body: command.body,
        timeout: 10,
        ...(command.rate ? { overallRate: command.rate } : {}),
        requests: [
          {
            // One shared counter: concurrent connections ask for different ids, as real clients would.
            setupRequest: (request: Record<string, unknown>) => {
              const r = command.requests[next++ % command.requests.length];
              const headers = { ...(request.headers as object), ...r.headers, ...(r.body ? { 'content-type': 'application/json' } : {}) };
              return { ...request, path: r.path, headers, ...(r.method ? { method: r.method } : {}), ...(r.body ? { body: r.body } : {}) };
            },
          },
        ],
      },
      (error, result) => {
        rotations.set(rotation, next % command.requests.length);
        if (error) return reject(error);
        latencies.sort((a, b) => a - b);
        const at = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : null);
        resolve({
          seconds: result.duration,
          responses: latencies.length,
          requestsPerSecond: latencies.length / result.duration,
          p50: at(0.5),
          p99: at(0.99),
          statusCodes,
          connectionErrors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      latencies.push(responseTime);
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
    });
  });
}

if (require.main === module) {
  if (!process.send) throw new Error('load.js runs as a forked child of run.js');
  process.on('message', (command: LoadCommand) => {
    run(command).then(
      (result) => process.send!({ id: command.id, result } satisfies LoadReply),
      (error: unknown) => process.send!({ id: command.id, error: String(error) } satisfies LoadReply),
    );
  });
  // The orchestrator is gone (crashed or killed): nothing left to do.
  process.on('disconnect', () => process.exit(0));
}
