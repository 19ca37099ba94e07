import { MetricsService } from '../../src/common/metrics/metrics.service';
import type { TestApp } from './create-test-app';
import { eventually } from './eventually';

/**
 * Long-polls (`Prefer: wait`) the app holds now: its `long_polls_open` gauge, raised once the
 * request has subscribed to its change and before it looks again, so a change committed after
 * the count rose wakes it.
 */
export async function longPollsHeld(app: TestApp): Promise<number> {
  return (await app.app.get(MetricsService).longPolls.get()).values[0]?.value ?? 0;
}

/** The same for a server process, read from its `/metrics`. */
export async function longPollsHeldAt(url: string): Promise<number> {
  const token = process.env.METRICS_TOKEN;
  const text = await (await fetch(`${url}/metrics`, { headers: token ? { Authorization: `Bearer ${token}` } : {} })).text();
  return Number(/^long_polls_open (\S+)$/m.exec(text)?.[1] ?? 0);
}

/**
 * Resolves once more long-polls than `before` are held (`count()` is `longPollsHeld` or
 * `longPollsHeldAt` bound to the server): the request sent since `before` was read now waits.
 */
export async function untilHeld(count: () => Promise<number>, before: number): Promise<void> {
  await eventually(count, (n) => n > before, 10_000);
}
