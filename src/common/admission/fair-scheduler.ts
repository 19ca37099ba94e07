/** Why a request was refused a slot. */
export type Refusal = 'organization_queue_full' | 'queue_full' | 'queue_timeout';

export interface SchedulerLimits {
  /** Cost units in use at once in this process (a request costs 1, a list 1 per 100 rows asked for). */
  concurrency: number;
  /** Cost units one organization may have in use at once: the rest is kept for the others. */
  organizationConcurrency: number;
  /** Requests waiting at once, all organizations together: past it, `queue_full`. */
  queue: number;
  /** Requests of one organization waiting at once: past it, `organization_queue_full`. */
  organizationQueue: number;
  /**
   * Event-loop utilization (0 to 1) past which, while two or more organizations ask for slots, each
   * one's budget shrinks (`tick`); 0: `organizationConcurrency` stays fixed.
   */
  loopUtilization: number;
}

/** A granted slot; `release()` gives it back (idempotent). */
export interface Slot {
  release(): void;
}

interface Waiter {
  cost: number;
  /** Cost granted to other organizations while this one, first in line, did not fit in the process. */
  bypassed: number;
  queuedAt: number;
  resolve: (slot: Slot) => void;
  reject: (reason: Refusal) => void;
  timer: NodeJS.Timeout | null;
  org: Organization;
}

interface Organization {
  key: string;
  inUse: number;
  waiters: Waiter[];
  /** Start-time fair queueing: the virtual time at which this organization's next request starts. */
  start: number;
  /** When it was last granted a waiting request (a counter): ties go to the one served least recently. */
  lastGrant: number;
}

const before = (a: Organization, b: Organization | null) => !b || a.start < b.start || (a.start === b.start && a.lastGrant < b.lastGrant);

/**
 * Fair admission of requests, in process memory (docs/api.md#fair-admission). Two budgets of cost
 * units: the process's (`concurrency`) and each organization's (`organizationConcurrency`, lower, so
 * that one organization never holds the whole process and a neighbour's request finds room at once).
 * While both have room and nobody waits, a request takes its slot at once (the hot path). Otherwise
 * it waits in its organization's queue; queues are served by start-time fair queueing on cost, so an
 * organization asking for heavy pages is served as many cost units as one asking for single rows,
 * and a newly busy organization goes next. A request that does not fit in the process yet is
 * bypassed by cheaper ones of other organizations for at most `concurrency` units, then the others
 * wait for it: heavy requests are never starved.
 *
 * Units count concurrency, not the event loop's time: a few requests heavy on the loop can keep it
 * busy all the time, and past that point the loop's own queue, first come first served, decides who
 * waits. So the organizations' budget follows the loop (`tick`): halved while the loop is saturated
 * and more than one organization is asking, grown back once it is not. The queueing then happens
 * here, fairly, and not in the loop.
 */
export class FairScheduler {
  private inUse = 0;
  private waiting = 0;
  private virtualTime = 0;
  private grants = 0;
  /** Organizations with a request in use or waiting. */
  private readonly orgs = new Map<string, Organization>();
  /** Each organization's budget now: `organizationConcurrency`, or less while the event loop is saturated. */
  private organizationLimit: number;
  /** Organizations that asked for a slot since the last `tick` (kept only when the budget follows the loop). */
  private readonly asking = new Set<string>();

  constructor(
    readonly limits: SchedulerLimits,
    private readonly queueTimeoutMs: number,
    private readonly onWaited: (seconds: number) => void = () => {},
  ) {
    this.organizationLimit = limits.organizationConcurrency;
  }

  /** Cost units one organization may have in use now (`organizationConcurrency` unless the event loop is saturated). */
  get organizationBudget(): number {
    return this.organizationLimit;
  }

  get used(): number {
    return this.inUse;
  }

  get queued(): number {
    return this.waiting;
  }

  /** Organizations with a request waiting. */
  get queuedOrganizations(): number {
    let n = 0;
    for (const org of this.orgs.values()) if (org.waiters.length > 0) n++;
    return n;
  }

  /** The cost a request is charged: at least 1, at most an organization's whole budget. */
  clamp(cost: number): number {
    const most = this.limits.organizationConcurrency;
    return cost >= 1 ? (cost <= most ? Math.floor(cost) : most) : 1;
  }

  /**
   * Every tenth of a second (AdmissionService), with the event loop's utilization over it:
   * while it was above `loopUtilization` and two or more organizations asked for slots, each
   * organization's budget is halved; otherwise it grows back by an eighth of
   * `organizationConcurrency` at a time, and the queues are served what now fits. An organization
   * with nothing in use always gets one request in, whatever its cost.
   */
  tick(utilization: number): void {
    if (this.limits.loopUtilization <= 0) return;
    const contended = this.asking.size > 1;
    this.asking.clear();
    const most = this.limits.organizationConcurrency;
    if (contended && utilization > this.limits.loopUtilization) {
      this.organizationLimit = Math.max(1, Math.floor(this.organizationLimit / 2));
    } else if (this.organizationLimit < most) {
      this.organizationLimit = Math.min(most, this.organizationLimit + Math.ceil(most / 8));
      if (this.waiting > 0) this.dispatch(Date.now());
    }
  }

  /** Whether `cost` more units fit in the organization's budget (always, when it has none in use). */
  private fits(org: Organization, cost: number): boolean {
    return org.inUse === 0 || org.inUse + cost <= this.organizationLimit;
  }

  /** A slot at once, or null when the caller must `wait`. */
  tryAcquire(key: string, cost: number): Slot | null {
    if (this.limits.loopUtilization > 0) this.asking.add(key);
    if (this.waiting > 0 || this.inUse + cost > this.limits.concurrency) return null;
    let org = this.orgs.get(key);
    if (!org) {
      org = { key, inUse: 0, waiters: [], start: this.virtualTime, lastGrant: 0 };
      this.orgs.set(key, org);
    } else if (!this.fits(org, cost)) return null;
    this.inUse += cost;
    org.inUse += cost;
    return this.slot(org, cost);
  }

  /**
   * Queues the request in its organization's line. `granted` resolves with the slot, or rejects with
   * a refusal when a queue is full or the wait outlasts the timeout; `cancel()` withdraws it (its client went away).
   */
  wait(key: string, cost: number, now = Date.now()): { granted: Promise<Slot>; cancel(): void } {
    if (this.limits.loopUtilization > 0) this.asking.add(key);
    let org = this.orgs.get(key);
    const refused = (reason: Refusal) => ({ granted: Promise.reject<Slot>(reason), cancel: () => {} });
    if (org && org.waiters.length >= this.limits.organizationQueue) return refused('organization_queue_full');
    if (this.waiting >= this.limits.queue) return refused('queue_full');
    if (!org) {
      org = { key, inUse: 0, waiters: [], start: this.virtualTime, lastGrant: 0 };
      this.orgs.set(key, org);
    } else if (org.waiters.length === 0) org.start = Math.max(org.start, this.virtualTime); // busy again: no credit for the idle time
    const owner = org;
    let waiter!: Waiter;
    const granted = new Promise<Slot>((resolve, reject) => {
      waiter = { cost, bypassed: 0, queuedAt: now, resolve, reject, timer: null, org: owner };
    });
    if (this.queueTimeoutMs > 0) waiter.timer = setTimeout(() => this.drop(waiter, 'queue_timeout'), this.queueTimeoutMs).unref();
    owner.waiters.push(waiter);
    this.waiting++;
    this.dispatch(now);
    return { granted, cancel: () => void this.drop(waiter, null) };
  }

  private slot(org: Organization, cost: number): Slot {
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.inUse -= cost;
        org.inUse -= cost;
        if (org.inUse === 0 && org.waiters.length === 0) this.orgs.delete(org.key);
        if (this.waiting > 0) this.dispatch(Date.now());
      },
    };
  }

  /** Grants waiting requests while they fit, lowest virtual start first. */
  private dispatch(now: number): void {
    while (this.waiting > 0) {
      let pick: Organization | null = null;
      let blocked: Organization | null = null;
      for (const org of this.orgs.values()) {
        const head = org.waiters[0];
        if (!head || !this.fits(org, head.cost)) continue; // over its own budget: waits for its own
        if (this.inUse + head.cost <= this.limits.concurrency) {
          if (before(org, pick)) pick = org;
        } else if (before(org, blocked)) blocked = org;
      }
      if (!pick) return;
      if (blocked && !before(pick, blocked)) {
        const first = blocked.waiters[0];
        if (first.bypassed >= this.limits.concurrency) return; // its turn: the others wait until it fits
        first.bypassed += pick.waiters[0].cost;
      }
      this.grant(pick, now);
    }
  }

  private grant(org: Organization, now: number): void {
    const waiter = org.waiters.shift()!;
    this.waiting--;
    if (waiter.timer) clearTimeout(waiter.timer);
    this.virtualTime = Math.max(this.virtualTime, org.start);
    org.start += waiter.cost;
    org.lastGrant = ++this.grants;
    this.inUse += waiter.cost;
    org.inUse += waiter.cost;
    this.onWaited((now - waiter.queuedAt) / 1000);
    waiter.resolve(this.slot(org, waiter.cost));
  }

  /** Removes a waiter that is still queued. */
  private drop(waiter: Waiter, reason: Refusal | null): void {
    const org = waiter.org;
    const at = org.waiters.indexOf(waiter);
    if (at < 0) return;
    org.waiters.splice(at, 1);
    this.waiting--;
    if (waiter.timer) clearTimeout(waiter.timer);
    if (org.inUse === 0 && org.waiters.length === 0) this.orgs.delete(org.key);
    if (reason) waiter.reject(reason);
    // The one first in line may have been holding the others back.
    this.dispatch(Date.now());
  }
}
