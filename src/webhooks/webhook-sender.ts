import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { BlockedAddressError, guardedLookup, hostOf, isBlockedAddress } from './url-guard';

export interface SendResult {
  /** The HTTP status, or null when no response came. */
  status: number | null;
  /** Why no (complete) response came: network error, timeout, refusal. */
  error: string | null;
  durationMs: number;
}

export const USER_AGENT = 'flow-execution-service-webhooks/1.0';

// Status and headers are all a delivery needs; a longer body is drained unread.
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate cannot be verified',
};

/**
 * POSTs one message. Redirects are not followed (a 3xx is a failure); the whole exchange must end
 * within `timeoutMs`; unless `allowPrivate`, the address connected to must be public, checked
 * after DNS resolution on every attempt.
 */
export class WebhookSender {
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(
    private readonly timeoutMs: number,
    private readonly allowPrivate: boolean,
    maxSocketsPerHost: number,
  ) {
    const options = { keepAlive: true, maxSockets: maxSocketsPerHost };
    this.agents = { http: new http.Agent(options), https: new https.Agent(options) };
  }

  send(url: string, headers: Record<string, string>, body: string): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (status: number | null, error: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status, error, durationMs: elapsed() });
      };
      let target: URL;
      try {
        target = new URL(url);
        const host = hostOf(url);
        if (!this.allowPrivate && isIP(host) && isBlockedAddress(host)) return finish(null, `refused: ${host} is not a public address`);
      } catch {
        return finish(null, 'refused: the URL is not valid');
      }
      const secure = target.protocol === 'https:';
      const req = (secure ? https : http).request(target, {
        method: 'POST',
        agent: secure ? this.agents.https : this.agents.http,
        headers: { ...headers, 'content-type': 'application/json', 'user-agent': USER_AGENT, 'content-length': Buffer.byteLength(body).toString() },
        ...(this.allowPrivate ? {} : { lookup: guardedLookup }),
      });
      timer = setTimeout(() => {
        finish(null, `timeout after ${this.timeoutMs} ms`);
        req.destroy();
      }, this.timeoutMs);
      req.on('response', (res) => {
        res.on('error', () => finish(null, 'connection closed during the response'));
        res.on('end', () => finish(res.statusCode ?? null, null));
        res.resume();
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish(null, describe(err)));
      req.end(body);
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

function describe(err: NodeJS.ErrnoException): string {
  if (err instanceof BlockedAddressError) return `refused: ${err.message}`;
  const known = err.code ? NETWORK_ERRORS[err.code] : undefined;
  return known ? `${known} (${err.code})` : err.code ? `network error (${err.code})` : 'network error';
}
