import { FairScheduler, Refusal, SchedulerLimits, Slot } from './fair-scheduler';

const settle = () => new Promise((done) => setImmediate(done));

/** A scheduler and the requests queued on it, by name, with the order they were granted in. */
function harness(limits: Partial<SchedulerLimits>, timeoutMs = 0) {
  const scheduler = new FairScheduler(
    { concurrency: 4, organizationConcurrency: 4, queue: 100, organizationQueue: 50, loopUtilization: 0, ...limits },
    timeoutMs,
  );
  const served: string[] = [];
  const slots = new Map<string, Slot>();
  const refused = new Map<string, Refusal>();
  const cancels = new Map<string, () => void>();
  return {
    scheduler,
    served,
    refused,
    queue(org: string, cost: number, name: string) {
      const ticket = scheduler.wait(org, cost, 0);
      cancels.set(name, ticket.cancel);
      ticket.granted.then(
        (slot) => {
          served.push(name);
          slots.set(name, slot);
        },
        (reason: Refusal) => refused.set(name, reason),
      );
    },
    cancel: (name: string) => cancels.get(name)!(),
    release: (name: string) => slots.get(name)!.release(),
    /** Releases the earliest granted slot still held. */
    releaseNext() {
      const name = served.find((n) => slots.has(n))!;
      slots.get(name)!.release();
      slots.delete(name);
    },
  };
}

describe('FairScheduler', () => {
  it("grants at once while the process's and the organization's budgets have room", () => {
    const { scheduler } = harness({ concurrency: 4, organizationConcurrency: 3 });
    const a = scheduler.tryAcquire('a', 2)!;
    expect(a).not.toBeNull();
    expect(scheduler.tryAcquire('a', 2)).toBeNull(); // a's budget: 3
    const b = scheduler.tryAcquire('b', 2)!;
    expect(scheduler.tryAcquire('b', 1)).toBeNull(); // the process's: 4
    expect(scheduler.used).toBe(4);
    a.release();
    a.release(); // idempotent
    b.release();
    expect(scheduler.used).toBe(0);
  });

  it('never lets a request jump a queue that is not empty', async () => {
    const h = harness({});
    const held = h.scheduler.tryAcquire('x', 4)!;
    h.queue('a', 1, 'a');
    expect(h.scheduler.tryAcquire('b', 1)).toBeNull();
    held.release();
    await settle();
    expect(h.served).toEqual(['a']);
    expect(h.scheduler.tryAcquire('b', 1)).not.toBeNull();
  });

  it('serves organizations in turn: a flood of one does not delay another', async () => {
    const h = harness({ concurrency: 1, organizationConcurrency: 1 });
    const first = h.scheduler.tryAcquire('a', 1)!;
    for (let i = 0; i < 10; i++) h.queue('a', 1, `a${i}`);
    h.queue('b', 1, 'b0');
    h.queue('b', 1, 'b1');
    first.release();
    for (let i = 0; i < 4; i++) {
      await settle();
      h.releaseNext();
    }
    await settle();
    expect(h.served.slice(0, 5)).toEqual(['a0', 'b0', 'a1', 'b1', 'a2']);
  });

  it("keeps room for a neighbour: an organization at its own budget waits for its own requests, not the neighbour's", async () => {
    const h = harness({ concurrency: 4, organizationConcurrency: 2 });
    const held = h.scheduler.tryAcquire('a', 2)!;
    for (let i = 0; i < 3; i++) h.queue('a', 1, `a${i}`);
    h.queue('b', 1, 'b0');
    h.queue('b', 1, 'b1');
    await settle();
    expect(h.served).toEqual(['b0', 'b1']); // granted at once, a's queue notwithstanding
    held.release();
    await settle();
    expect(h.served).toEqual(['b0', 'b1', 'a0', 'a1']);
  });

  it('charges a heavy request its cost: a cheap organization gets as many units (plus the bypass), not as many requests', async () => {
    const h = harness({ concurrency: 10, organizationConcurrency: 10 });
    const busy = h.scheduler.tryAcquire('x', 10)!;
    for (let i = 0; i < 3; i++) h.queue('heavy', 10, `h${i}`);
    for (let i = 0; i < 45; i++) h.queue('light', 1, `l${i}`);
    busy.release();
    for (let i = 0; i < 48; i++) {
      await settle();
      if (h.served.length > i) h.releaseNext();
    }
    expect(h.served).toHaveLength(48);
    const at = ['h0', 'h1', 'h2'].map((name) => h.served.indexOf(name));
    expect(at[0]).toBe(0);
    // Between two heavy ones: at least its cost in light ones, at most that plus the bypass allowance.
    for (const gap of [at[1] - at[0] - 1, at[2] - at[1] - 1]) {
      expect(gap).toBeGreaterThanOrEqual(10);
      expect(gap).toBeLessThanOrEqual(20);
    }
  });

  it('lets cheap requests pass a heavy one that does not fit yet, for at most the concurrency in units', async () => {
    const h = harness({ concurrency: 4, organizationConcurrency: 4 });
    const held = h.scheduler.tryAcquire('x', 2)!;
    h.queue('heavy', 4, 'h'); // waits: 2 in use
    for (let i = 0; i < 8; i++) h.queue('light', 1, `l${i}`);
    await settle();
    expect(h.served).toEqual(['l0', 'l1']); // the two free units
    h.release('l0');
    h.release('l1');
    await settle();
    expect(h.served).toEqual(['l0', 'l1', 'l2', 'l3']); // 4 units went past the heavy one: now it is its turn
    h.release('l2');
    h.release('l3');
    await settle();
    expect(h.served).toHaveLength(4); // two free units, kept for the heavy one
    held.release();
    await settle();
    expect(h.served).toEqual(['l0', 'l1', 'l2', 'l3', 'h']);
    h.release('h');
    await settle();
    expect(h.served).toHaveLength(9);
  });

  it('refuses past the organization queue (429) and past the process queue (503)', async () => {
    const h = harness({ queue: 6, organizationQueue: 3 });
    h.scheduler.tryAcquire('x', 4);
    for (let i = 0; i < 4; i++) h.queue('a', 1, `a${i}`);
    for (let i = 0; i < 4; i++) h.queue(`o${i}`, 1, `o${i}`);
    await settle();
    expect(Object.fromEntries(h.refused)).toEqual({ a3: 'organization_queue_full', o3: 'queue_full' });
    expect(h.scheduler.queued).toBe(6);
    expect(h.scheduler.queuedOrganizations).toBe(4);
  });

  it('refuses a request that waited past the timeout, and forgets one whose client left', async () => {
    jest.useFakeTimers();
    try {
      const h = harness({}, 1000);
      const held = h.scheduler.tryAcquire('x', 4)!;
      h.queue('a', 1, 'late');
      h.queue('b', 1, 'gone');
      h.cancel('gone');
      expect(h.scheduler.queued).toBe(1);
      jest.advanceTimersByTime(1000);
      await Promise.resolve();
      await Promise.resolve();
      expect(h.refused.get('late')).toBe('queue_timeout');
      expect(h.scheduler.queued).toBe(0);
      held.release();
      expect(h.scheduler.used).toBe(0);
      expect(h.served).toEqual([]);
    } finally {
      jest.useRealTimers();
    }
  });

  it("clamps a cost to at least 1 and at most an organization's budget", () => {
    const { scheduler } = harness({ concurrency: 8, organizationConcurrency: 4 });
    expect([0, 1, 2.5, 10, NaN].map((c) => scheduler.clamp(c))).toEqual([1, 1, 2, 4, 1]);
  });

  describe('following the event loop', () => {
    const busy = 0.95;
    const quiet = 0.5;

    it('halves the budget while the loop is saturated and two organizations ask, down to 1', () => {
      const { scheduler } = harness({ concurrency: 32, organizationConcurrency: 16, loopUtilization: 0.9 });
      const budgets: number[] = [];
      for (let i = 0; i < 5; i++) {
        scheduler.tryAcquire('a', 1)!.release();
        scheduler.tryAcquire('b', 1)!.release();
        scheduler.tick(busy);
        budgets.push(scheduler.organizationBudget);
      }
      expect(budgets).toEqual([8, 4, 2, 1, 1]);
    });

    it('leaves it alone for one organization alone, for a loop below the mark, and when turned off', () => {
      const alone = harness({ concurrency: 32, organizationConcurrency: 16, loopUtilization: 0.9 }).scheduler;
      alone.tryAcquire('a', 1)!.release();
      alone.tick(busy);
      expect(alone.organizationBudget).toBe(16);

      const cool = harness({ concurrency: 32, organizationConcurrency: 16, loopUtilization: 0.9 }).scheduler;
      cool.tryAcquire('a', 1)!.release();
      cool.tryAcquire('b', 1)!.release();
      cool.tick(quiet);
      expect(cool.organizationBudget).toBe(16);

      const off = harness({ concurrency: 32, organizationConcurrency: 16, loopUtilization: 0 }).scheduler;
      off.tryAcquire('a', 1)!.release();
      off.tryAcquire('b', 1)!.release();
      off.tick(1);
      expect(off.organizationBudget).toBe(16);
    });

    it('lets an organization with nothing in use in with one request, whatever its cost, and no more', () => {
      const { scheduler } = harness({ concurrency: 32, organizationConcurrency: 16, loopUtilization: 0.9 });
      for (let i = 0; i < 3; i++) {
        scheduler.tryAcquire('a', 1)!.release();
        scheduler.tryAcquire('b', 1)!.release();
        scheduler.tick(busy);
      }
      expect(scheduler.organizationBudget).toBe(2);
      const page = scheduler.tryAcquire('a', 10)!;
      expect(page).not.toBeNull();
      expect(scheduler.tryAcquire('a', 1)).toBeNull();
      const read = scheduler.tryAcquire('b', 1)!;
      expect(scheduler.tryAcquire('b', 1)).not.toBeNull(); // 2 of b's 2
      expect(scheduler.tryAcquire('b', 1)).toBeNull();
      page.release();
      read.release();
    });

    it('grows the budget back by an eighth at a time and serves the queues what now fits', async () => {
      const h = harness({ concurrency: 32, organizationConcurrency: 16, loopUtilization: 0.9 });
      for (let i = 0; i < 4; i++) {
        h.scheduler.tryAcquire('a', 1)!.release();
        h.scheduler.tryAcquire('b', 1)!.release();
        h.scheduler.tick(busy);
      }
      expect(h.scheduler.organizationBudget).toBe(1);
      const first = h.scheduler.tryAcquire('a', 1)!;
      h.queue('a', 1, 'a2');
      h.queue('a', 1, 'a3');
      h.queue('a', 1, 'a4');
      await settle();
      expect(h.served).toEqual([]);
      h.scheduler.tick(quiet);
      await settle();
      expect(h.scheduler.organizationBudget).toBe(3);
      expect(h.served).toEqual(['a2', 'a3']);
      const budgets = [];
      for (let i = 0; i < 8; i++) {
        h.scheduler.tick(quiet);
        budgets.push(h.scheduler.organizationBudget);
      }
      expect(budgets).toEqual([5, 7, 9, 11, 13, 15, 16, 16]);
      await settle();
      expect(h.served).toEqual(['a2', 'a3', 'a4']);
      first.release();
    });
  });
});
