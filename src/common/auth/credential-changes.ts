import { Injectable } from '@nestjs/common';
import { Notifier } from '../../database/notifier';

/** The channel of `NOTIFY` on any change to an API key or a service account (a trigger sends it): cached keys are dropped. */
export const CREDENTIALS_CHANNEL = 'credential_changes';

/** Whether credentials may have changed since a value of `credentialsGeneration` was read. */
@Injectable()
export class CredentialChanges {
  private generation = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly notifier: Notifier) {
    const changed = () => this.changed();
    // A lost or new connection may have missed a notification: what was verified before is stale too.
    notifier.listen(CREDENTIALS_CHANNEL, { notification: changed, gap: changed });
  }

  /**
   * A change this process made and committed: its own cache is stale now, before the notification
   * comes back, so a revocation answered here holds for the very next request (the contract's "at once").
   */
  changed(): void {
    this.generation++;
    for (const listener of this.listeners) listener();
  }

  /** Calls `listener` after every change (and gap); the answer unregisters it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Whether this process hears changes now. */
  get listening(): boolean {
    return this.notifier.listening;
  }

  /** Changes on each notification, and whenever the connection is lost or made. */
  get credentialsGeneration(): number {
    return this.generation;
  }
}
