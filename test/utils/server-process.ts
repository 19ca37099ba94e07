import { join } from 'node:path';
import { ServerProcess, spawnServer } from '../../bench/processes';

export type { ServerProcess } from '../../bench/processes';
export { waitUntilReady } from '../../bench/processes';

const ROOT = join(__dirname, '..', '..');

/** The real server (`src/main.ts`, transpiled on the fly) in a process of its own, as a replica behind a load balancer would run. */
export function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  return spawnServer({
    script: join('src', 'main.ts'),
    nodeArgs: ['-r', 'ts-node/register/transpile-only'],
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
  });
}
