import { createLogger } from './logger';

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
    const err = Object.assign(new Error('insert failed'), {
      query: 'INSERT INTO webhooks ...',
      parameters: ['whsec_c2VjcmV0'],
      driverError: { parameters: ['whsec_c2VjcmV0'] },
    });
    logger.error({ err }, 'request failed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('whsec_');
    expect(JSON.parse(lines[0]).err).toMatchObject({ message: 'insert failed', parameters: '[redacted]' });
  });
});
