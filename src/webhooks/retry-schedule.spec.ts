import { nextAttemptAt } from './retry-schedule';

const created = new Date('2026-01-01T00:00:00Z');
const DAY = 86_400_000;

describe('webhook retry schedule', () => {
  it('doubles from the base, with jitter within 20 %', () => {
    const at = (attempt: number, random: number) => nextAttemptAt(attempt, created, created, 5000, DAY, random)!.getTime() - created.getTime();
    expect(at(1, 0.5)).toBe(5000);
    expect(at(2, 0.5)).toBe(10_000);
    expect(at(3, 0.5)).toBe(20_000);
    expect(at(1, 0)).toBe(4000);
    expect(at(1, 0.999999)).toBeCloseTo(6000, -1);
  });

  it('gives up once the next attempt would fall outside the window', () => {
    const schedule: number[] = [];
    let now = created;
    for (let attempt = 1; ; attempt++) {
      const next = nextAttemptAt(attempt, created, now, 5000, DAY, 0.5);
      if (next === null) break;
      schedule.push(next.getTime() - now.getTime());
      now = next;
    }
    // 5 s, 10 s, ... 5 s × 2^13 ≈ 11.4 h: 14 retries, the last ending about 22.8 h after the event.
    expect(schedule).toHaveLength(14);
    expect(now.getTime() - created.getTime()).toBeLessThanOrEqual(DAY);
    expect(nextAttemptAt(1, created, new Date(created.getTime() + DAY), 5000, DAY, 0.5)).toBeNull();
  });
});
