import { EventEmitter } from 'node:events';
import pino from 'pino';
import { requestLogger } from './request-logger';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

function fakeRequest() {
  const req = {
    id: '01TESTREQUEST',
    method: 'GET',
    originalUrl: '/api/flows?page=2',
    principal: { organizationId: 'org-1', credential: 'jwt', subject: 'user-1', role: 'app_user' },
  };
  const res = Object.assign(new EventEmitter(), { statusCode: 200 });
  return { req, res };
}

describe('requestLogger', () => {
  it('writes one line per finished request with its id, route, status and caller', () => {
    const { logger, lines } = capture('info');
    const { req, res } = fakeRequest();
    const next = jest.fn();
    requestLogger(logger)(req as never, res as never, next);
    expect(next).toHaveBeenCalledTimes(1);
    expect(lines).toHaveLength(0);
    res.emit('finish');
    res.emit('finish');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      reqId: '01TESTREQUEST',
      method: 'GET',
      url: '/api/flows?page=2',
      status: 200,
      org: 'org-1',
      caller: 'jwt:user-1',
      msg: 'request completed',
    });
    expect(typeof lines[0].ms).toBe('number');
  });

  it('does nothing per request above info', () => {
    const { logger, lines } = capture('warn');
    const { req, res } = fakeRequest();
    const next = jest.fn();
    requestLogger(logger)(req as never, res as never, next);
    res.emit('finish');
    expect(next).toHaveBeenCalledTimes(1);
    expect(res.listenerCount('finish')).toBe(0);
    expect(lines).toHaveLength(0);
  });
});
