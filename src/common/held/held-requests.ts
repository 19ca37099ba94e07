import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import type { Principal } from '../auth/principal';
import { AppError } from '../errors/app-error';
import { MetricsService } from '../metrics/metrics.service';

/** Seconds a refused client is told to wait: a held request ends within a minute, most much sooner. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Counts held requests (SSE streams and long-polls that wait) per organization and per credential,
 * in this process (docs/api.md#held-requests): past `HELD_REQUESTS_PER_ORG` or
 * `HELD_REQUESTS_PER_CREDENTIAL` a request is refused with 429 before it holds anything.
 */
@Injectable()
export class HeldRequests {
  private readonly organizations = new Map<string, number>();
  private readonly credentials = new Map<string, number>();
  private readonly limits: AppConfig['heldRequests'];

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.limits = config.heldRequests;
  }

  /** Takes a place for the principal or throws 429 `rate_limited`; the answer frees it (once). */
  hold(principal: Principal): () => void {
    const organization = principal.organizationId;
    const credential = `${organization}:${principal.credential}:${principal.subject}`;
    const scope =
      (this.organizations.get(organization) ?? 0) >= this.limits.perOrganization
        ? 'organization'
        : (this.credentials.get(credential) ?? 0) >= this.limits.perCredential
          ? 'credential'
          : null;
    if (scope) {
      this.metrics.heldRejections.inc({ scope });
      throw new AppError('rate_limited', `Too many held requests (streams and long-polls) for this ${scope}; retry in ${RETRY_AFTER_SECONDS} s`, {
        policy: `held_requests_${scope}`,
        retry_after: RETRY_AFTER_SECONDS,
      });
    }
    add(this.organizations, organization, 1);
    add(this.credentials, credential, 1);
    this.metrics.heldRequests.inc();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      add(this.organizations, organization, -1);
      add(this.credentials, credential, -1);
      this.metrics.heldRequests.dec();
    };
  }

  /** Held requests of the organization in this process. */
  count(organizationId: string): number {
    return this.organizations.get(organizationId) ?? 0;
  }
}

function add(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
