import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { OrganizationRow, OrganizationsRepository } from './organizations.repository';

/** An organization's concurrency: the limit in force and the slots in use, as read (under its row lock, for writers). */
export interface Slots {
  organizationId: string;
  limit: number;
  active: number;
}

/**
 * The one owner of the organizations table: its limits and slot counter. Every change of the
 * number of executions running holds the organization's row lock, taken here, first.
 */
@Injectable()
export class OrganizationsService {
  constructor(
    private readonly repository: OrganizationsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The limit of an organization that has not set its own. */
  get defaultLimit(): number {
    return this.config.defaultOrgConcurrencyLimit;
  }

  /** Locks the organization's row (made on first use) and reads its slots. */
  async lock(m: EntityManager, organizationId: string): Promise<Slots> {
    return this.slotsOf(organizationId, await this.repository.lock(m, organizationId));
  }

  /** For sweeps that never wait: the lock and the slots, or null when someone else holds the row. */
  async tryLock(m: EntityManager, organizationId: string): Promise<Slots | null> {
    const row = await this.repository.tryLock(m, organizationId);
    return row ? this.slotsOf(organizationId, row) : null;
  }

  /** The slots without a lock (an organization that never ran anything has none in use). */
  async slots(m: EntityManager, organizationId: string): Promise<Slots> {
    return this.slotsOf(organizationId, await this.repository.find(m, organizationId));
  }

  /** Sets the organization's own limit; the caller holds its lock (`lock`). */
  async setLimit(m: EntityManager, slots: Slots, limit: number): Promise<void> {
    await this.repository.setLimit(m, slots.organizationId, limit);
    slots.limit = limit;
  }

  private slotsOf(organizationId: string, row: OrganizationRow | undefined): Slots {
    return { organizationId, limit: row?.max_concurrent_executions ?? this.defaultLimit, active: row?.active_executions ?? 0 };
  }
}
