import { BeforeApplicationShutdown, Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { Client } from 'pg';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { LOGGER } from '../logging/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/**
 * A caller's interest in a key (one execution's changes, one organization's, ...). Created before the caller
 * reads, so a change committed between its read and its wait is not missed.
 */
export class Subscription {
  /** Set when the process shuts down: holders answer now and stop waiting. */
  ended = false;
  private changed = false;
  private wake: ((changed: boolean) => void) | null = null;

  constructor(
    readonly key: string,
    private readonly release: (subscription: Subscription) => void,
  ) {}

  /** Resolves true on a change (or a reconnect: the caller re-checks), false after `ms`, on abort or at shutdown. */
  wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.changed || this.ended || signal?.aborted) {
      const changed = this.changed;
      this.changed = false;
      return Promise.resolve(changed);
    }
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wake = null;
        this.changed = false;
        resolve(changed);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(done, ms, false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wake = done;
    });
  }

  /** Shutdown: the holder answers with what it has, without another read. */
  end(): void {
    this.ended = true;
    this.wake?.(false);
  }

  notify(): void {
    if (this.wake) this.wake(true);
    else this.changed = true;
  }

  close(): void {
    this.wake?.(false);
    this.release(this);
  }
}

/** What an owner of a channel does with it; registered with `Notifier.listen`. */
export interface ChannelListener {
  /** A notification on the channel, with its payload, heard after its sender committed. */
  notification(payload: string): void;
  /** The connection was made or lost: notifications may have been missed. */
  gap?(): void;
}

/**
 * One `LISTEN` connection per process, fanned out to in-process subscribers. Writers `NOTIFY` in
 * their transaction, so only committed changes wake anyone, on every replica. Subscribers hold no
 * database connection. After a lost connection it reconnects and wakes everyone to re-check.
 * It knows no channel itself: each owner registers its own (`listen`) and says whom it wakes.
 */
@Injectable()
export class Notifier implements OnModuleInit, BeforeApplicationShutdown {
  private readonly channels = new Map<string, ChannelListener>();
  private readonly subscribers = new Map<string, Set<Subscription>>();
  private client: Client | null = null;
  private stopped = false;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const set of this.subscribers.values()) for (const subscription of set) subscription.end();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  /**
   * Hears `channel` from now on. Owners register in their constructor, before the connection
   * opens; a later registration is listened to at once.
   */
  listen(channel: string, listener: ChannelListener): void {
    if (this.channels.has(channel)) throw new Error(`channel ${channel} already has a listener`);
    this.channels.set(channel, listener);
    const client = this.client;
    if (client) client.query(listenTo(client, [channel])).catch((error: unknown) => this.lost(client, error));
  }

  /** Interest in a key that channel owners wake (e.g. `execution:<id>`). */
  subscribe(key: string): Subscription {
    const subscription = new Subscription(key, (s) => this.unsubscribe(s));
    if (this.stopped) subscription.ended = true;
    let set = this.subscribers.get(key);
    if (!set) this.subscribers.set(key, (set = new Set()));
    set.add(subscription);
    return subscription;
  }

  /** Wakes the key's subscribers; channel owners call it from their listener. */
  wake(key: string): void {
    const set = this.subscribers.get(key);
    if (set) for (const subscription of set) subscription.notify();
  }

  get listening(): boolean {
    return this.client !== null;
  }

  get subscriberCount(): number {
    let n = 0;
    for (const set of this.subscribers.values()) n += set.size;
    return n;
  }

  private unsubscribe(subscription: Subscription): void {
    const set = this.subscribers.get(subscription.key);
    if (!set) return;
    set.delete(subscription);
    if (set.size === 0) this.subscribers.delete(subscription.key);
  }

  private async connect(): Promise<void> {
    const options = this.dataSource.options as PostgresConnectionOptions;
    // LISTEN holds its session: behind a transaction pooler it must reach PostgreSQL itself.
    const client = new Client({ connectionString: this.config.databaseDirectUrl ?? options.url, ...(options.extra as object) });
    client.on('notification', (message) => this.channels.get(message.channel)?.notification(message.payload ?? ''));
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, null));
    try {
      await client.connect();
      if (this.channels.size > 0) await client.query(listenTo(client, [...this.channels.keys()]));
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.lost(client, error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectDelay = RECONNECT_MIN_MS;
    for (const listener of this.channels.values()) listener.gap?.();
    // Changes committed while no one listened are unknown: every waiter re-checks.
    this.wakeAll();
  }

  private lost(client: Client, error: unknown): void {
    if (this.client !== null && this.client !== client) return;
    this.client = null;
    for (const listener of this.channels.values()) listener.gap?.();
    client.removeAllListeners();
    client.on('error', () => undefined);
    if (this.stopped || this.reconnectTimer) return;
    this.logger.warn({ err: error ?? undefined }, 'change listener disconnected; reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
  }

  private wakeAll(): void {
    for (const set of this.subscribers.values()) for (const subscription of set) subscription.notify();
  }
}

/** `LISTEN` statements for the channels, names quoted (channel names are case-sensitive identifiers). */
function listenTo(client: Client, channels: string[]): string {
  return channels.map((channel) => `LISTEN ${client.escapeIdentifier(channel)}`).join('; ');
}
