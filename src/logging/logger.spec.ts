import { EventEmitter } from 'node:events';
import pino from 'pino';
import { createLogger, requestLogger } from './logger';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

function fakeRequest() {
  const req = { id: '01TESTREQUEST', method: 'GET', originalUrl: '/api/flows?page=2', principal: { organizationId: 'org-1', credential: 'jwt', subject: 'user-1', role: 'app_user' } };
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
    expect(lines[0]).toMatchObject({ reqId: '01TESTREQUEST', method: 'GET', url: '/api/flows?page=2', status: 200, org: 'org-1', caller: 'jwt:user-1', msg: 'request completed' });
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

describe('createLogger', () => {
  it('censors credentials wherever a logged object carries them', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => lines.push(line) });
    logger.info(
      {
        authorization: 'Bearer top-1',
        req: { headers: { authorization: 'Bearer top-2', 'x-api-key': 'saf_top-3' } },
        webhook: { secret: 'whsec_top-4' },
        key: { token: 'saf_top-5' },
        config: { jwt_secret: 'top-6' },
        kept: 'visible',
      },
      'with secrets',
    );
    expect(lines).toHaveLength(1);
    for (const secret of ['top-1', 'top-2', 'top-3', 'top-4', 'top-5', 'top-6']) expect(lines[0]).not.toContain(secret);
    expect(JSON.parse(lines[0])).toMatchObject({ authorization: '[redacted]', kept: 'visible', webhook: { secret: '[redacted]' } });
  });

  it("never writes a failed query's parameters", () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => lines.push(line) });
    const err = Object.assign(new Error('insert failed'), { query: 'INSERT INTO webhooks ...', parameters: ['whsec_c2VjcmV0'], driverError: { parameters: ['whsec_c2VjcmV0'] } });
    logger.error({ err }, 'request failed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('whsec_');
    expect(JSON.parse(lines[0]).err).toMatchObject({ message: 'insert failed', parameters: '[redacted]' });
  });
});
