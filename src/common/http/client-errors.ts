import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_STATUS, ErrorCode } from '../errors/app-error';
import { newRequestId } from './request-id';

const ANSWERS: Record<string, [ErrorCode, string]> = {
  HPE_HEADER_OVERFLOW: ['header_fields_too_large', 'Request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: ['request_timeout', 'The request took too long to arrive'],
};

/**
 * Requests that Node's HTTP parser refuses before any route runs (a control character such as NUL in
 * a header, a malformed request line, oversized headers) are answered in the envelope too.
 * https://nodejs.org/api/http.html#event-clienterror
 */
export function answerClientErrorsInEnvelope(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [code, message] = ANSWERS[error.code ?? ''] ?? ['bad_request', 'Malformed HTTP request (e.g. a control character in a header)'];
    const status = ERROR_STATUS[code];
    const requestId = newRequestId();
    const body = JSON.stringify({ error: { message, code, details: null }, request_id: requestId });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-ID: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
