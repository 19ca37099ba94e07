import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServerProcess, waitUntilReady } from '../utils/server-process';
import { newOrg } from '../utils/tokens';

const ROOT = join(__dirname, '..', '..');
const METRICS_TOKEN = 'metrics-token-do-not-log-0123';

function jsonLines(stdout: string): Record<string, unknown>[] {
  const lines = stdout.split('\n').filter((line) => line !== '');
  expect(lines.length).toBeGreaterThan(0);
  return lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON line on stdout: ${line}`);
    }
  });
}

describe('logs in production: JSON lines only, no secrets', () => {
  it('writes Nest’s startup and shutdown lines and every request as JSON, and never a credential', async () => {
    const server = await startServerProcess({ NODE_ENV: 'production', LOG_LEVEL: 'info', METRICS_TOKEN });
    let code: number | null = null;
    const secrets: string[] = [process.env.JWT_SECRET!, METRICS_TOKEN];
    try {
      await waitUntilReady(server);
      const org = await newOrg();
      secrets.push(org.tokens.org_admin);
      const call = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, init);
      const admin = { Authorization: `Bearer ${org.tokens.org_admin}`, 'Content-Type': 'application/json' };
      const account = (await (await call('/api/service-accounts', { method: 'POST', headers: admin, body: JSON.stringify({ name: 'logger' }) })).json()) as {
        id: string;
      };
      const key = (await (
        await call(`/api/service-accounts/${account.id}/api-keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'k' }) })
      ).json()) as { token: string };
      expect(key.token).toMatch(/^saf_/);
      secrets.push(key.token);
      expect((await call('/api/flows', { headers: { 'X-API-Key': key.token } })).status).toBe(200);
      expect((await call('/api/flows', { headers: { Authorization: 'Bearer not-a-valid-token-but-secret-looking' } })).status).toBe(401);
      secrets.push('not-a-valid-token-but-secret-looking');
      expect((await call('/metrics', { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
    } finally {
      code = await server.stop('SIGTERM');
    }
    expect(code).toBe(0);

    const lines = jsonLines(server.stdout());
    const messages = lines.map((line) => line.msg);
    expect(messages).toContain('Nest application successfully started');
    expect(lines.some((line) => line.context === 'RouterExplorer')).toBe(true);
    expect(messages).toEqual(expect.arrayContaining(['listening', 'shutting down', 'stopped']));
    expect(lines.filter((line) => line.msg === 'request completed').length).toBeGreaterThanOrEqual(5);
    for (const secret of secrets) expect(server.output()).not.toContain(secret);
  }, 180_000);

  it('turns a failed start into JSON lines and exit code 1', async () => {
    const server = await startServerProcess({ NODE_ENV: 'production', LOG_LEVEL: 'info', DATABASE_URL: 'postgres://postgres:hunter2-secret@127.0.0.1:1/none' });
    // SIGCONT changes nothing: this only waits for the process to give up by itself.
    expect(await server.stop('SIGCONT')).toBe(1);
    const lines = jsonLines(server.stdout());
    const fatal = lines.find((line) => line.level === 60) as { err?: { message: string; stack: string } } | undefined;
    expect(fatal?.err?.message).toContain('ECONNREFUSED');
    expect(server.output()).not.toContain('hunter2-secret');
  }, 180_000);

  it('turns an uncaught exception into one fatal JSON line with its stack, and exit code 1', async () => {
    const script = `const l = require('./src/logging/logger'); l.logUncaughtErrors(l.createLogger('info')); setTimeout(() => { throw new Error('boom'); });`;
    const result = await promisify(execFile)(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { cwd: ROOT }).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect('code' in result && result.code).toBe(1);
    expect(result.stderr).toBe('');
    const [line, ...rest] = jsonLines(result.stdout) as { level: number; msg: string; err: { message: string; stack: string } }[];
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 60, msg: 'uncaught exception', err: { message: 'boom' } });
    expect(line.err.stack).toContain('Error: boom');
  });
});
