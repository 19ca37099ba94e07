/**
 * When to try again after failed attempt number `attempt` (1-based): `baseMs` doubled for each
 * earlier failure, times a jitter in [0.8, 1.2) so endpoints that failed together do not retry
 * together. Null when that would be past the delivery's window: the message has then failed.
 */
export function nextAttemptAt(attempt: number, createdAt: Date, now: Date, baseMs: number, windowMs: number, random = Math.random()): Date | null {
  const delay = baseMs * 2 ** Math.min(attempt - 1, 40) * (0.8 + 0.4 * random);
  const at = now.getTime() + delay;
  return at > createdAt.getTime() + windowMs ? null : new Date(at);
}
