/**
 * Polls `probe` until `check` holds for its value (by default: until the value is truthy), and
 * answers that value; fails with the last value after `timeoutMs`. The one way tests wait for
 * something another process, connection or timer does: never a fixed sleep.
 */
export async function eventually<T>(probe: () => T | Promise<T>, check: (value: T) => boolean = Boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${describe(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 2000) ?? String(value);
  } catch {
    return String(value);
  }
}
