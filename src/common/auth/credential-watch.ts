import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { ApiKeyVerifier } from './api-key.verifier';
import { CredentialChanges } from './credential-changes';
import type { Principal } from './principal';

/** While no change listener runs, watched API keys are re-checked this often (the key cache then trusts an answer 1 s). */
const FALLBACK_CHECK_MS = 1_000;
// setTimeout's longest delay; a later `exp` is caught by the re-checks.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A held stream's view of its credential. */
export interface CredentialLease {
  /** Aborts when the credential stops being valid: at a JWT's `exp`, on an API key's revocation. */
  readonly revoked: AbortSignal;
  /** Re-checks now (a cache hit unless credentials changed); aborts `revoked` when no longer valid. */
  check(): Promise<boolean>;
  close(): void;
}

/**
 * Long-lived requests re-check their credential (docs/api.md#held-requests): a JWT ends at its
 * `exp`; an API key is re-verified on every credential change this process hears (through the key
 * cache, one query per key), and every second while it hears none, so a deleted or disabled key
 * ends its streams within about a second.
 */
@Injectable()
export class CredentialWatch implements OnModuleDestroy {
  private readonly leases = new Set<() => Promise<boolean>>();
  private readonly unlisten: () => void;
  private fallback: NodeJS.Timeout | null = null;

  constructor(
    private readonly apiKeys: ApiKeyVerifier,
    private readonly changes: CredentialChanges,
  ) {
    this.unlisten = changes.onChange(() => this.checkAll());
  }

  onModuleDestroy(): void {
    this.unlisten();
    if (this.fallback) clearInterval(this.fallback);
  }

  watch(principal: Principal): CredentialLease {
    const controller = new AbortController();
    const { expiresAt, apiKeyHash } = principal;
    let timer: NodeJS.Timeout | null = null;
    const check = async (): Promise<boolean> => {
      if (controller.signal.aborted) return false;
      let valid = expiresAt === undefined || Date.now() < expiresAt;
      if (valid && apiKeyHash !== undefined) {
        try {
          const current = await this.apiKeys.verifyHash(apiKeyHash);
          valid =
            current !== null && current.subject === principal.subject && current.organizationId === principal.organizationId && current.role === principal.role;
        } catch {
          return true; // the database is unreachable: the next check decides
        }
      }
      if (!valid) controller.abort();
      return valid;
    };
    if (expiresAt !== undefined) {
      timer = setTimeout(() => void check(), Math.min(Math.max(0, expiresAt - Date.now()), MAX_TIMER_MS));
      timer.unref();
    }
    if (apiKeyHash !== undefined) {
      this.leases.add(check);
      if (!this.fallback) {
        this.fallback = setInterval(() => {
          if (!this.changes.listening) this.checkAll();
        }, FALLBACK_CHECK_MS);
        this.fallback.unref();
      }
    }
    return {
      revoked: controller.signal,
      check,
      close: () => {
        if (timer) clearTimeout(timer);
        this.leases.delete(check);
        if (this.leases.size === 0 && this.fallback) {
          clearInterval(this.fallback);
          this.fallback = null;
        }
      },
    };
  }

  private checkAll(): void {
    for (const check of this.leases) void check();
  }
}
