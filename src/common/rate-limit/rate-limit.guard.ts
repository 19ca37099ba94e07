import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { APP_CONFIG, AppConfig, RateLimitConfig } from '../../config/app-config';
import type { AuthenticatedRequest } from '../auth/auth.decorators';
import { AppError } from '../errors/app-error';
import { RATE_COST } from './rate-cost.decorator';
import { TokenBuckets } from './token-buckets';

const POLICIES = ['organization', 'credential'] as const;

/**
 * Fair limits, after authentication and before any handler: one token bucket per organization and
 * one per caller (JWT subject or service account), in this process (docs/api.md#rate-limits). Off when
 * `RATE_LIMIT_RPS` is unset. A request takes one token, a list one per 100 rows asked for
 * (`@RateCost`). A refused request answers 429 `rate_limited` with `Retry-After`.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly limits: RateLimitConfig | null;
  private readonly buckets = new TokenBuckets();
  private readonly policyHeader: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly reflector: Reflector,
  ) {
    this.limits = config.rateLimit;
    // IETF draft-ietf-httpapi-ratelimit-headers: q = quota (the burst), w = seconds to refill it.
    this.policyHeader = this.limits
      ? POLICIES.map((name) => {
          const { rps, burst } = this.limits![name];
          return `"${name}";q=${burst};w=${Math.max(1, Math.ceil(burst / rps))}`;
        }).join(', ')
      : '';
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.limits) return true;
    const http = context.switchToHttp();
    const principal = http.getRequest<Request & AuthenticatedRequest>().principal;
    if (!principal) return true; // public routes (health, docs)
    const res = http.getResponse<Response>();
    const costOf = this.reflector.get<((query: Record<string, unknown>) => number) | undefined>(RATE_COST, context.getHandler());
    const cost = Math.max(1, costOf ? costOf(http.getRequest<Request>().query as Record<string, unknown>) : 1);

    const { refused, states } = this.buckets.take(
      [
        { key: `o:${principal.organizationId}`, policy: this.limits.organization },
        { key: `c:${principal.organizationId}:${principal.credential}:${principal.subject}`, policy: this.limits.credential },
      ],
      Date.now(),
      cost,
    );
    // The budget nearest to refusing is the one a client should pace itself by.
    const shown = refused >= 0 ? refused : states[0].remaining <= states[1].remaining ? 0 : 1;
    res.setHeader('RateLimit-Policy', this.policyHeader);
    res.setHeader('RateLimit', `"${POLICIES[shown]}";r=${states[shown].remaining};t=${states[shown].resetSeconds}`);
    if (refused < 0) return true;

    const retryAfter = Math.max(1, states[refused].resetSeconds);
    res.setHeader('Retry-After', String(retryAfter));
    throw new AppError('rate_limited', `Too many requests for this ${POLICIES[refused]}; retry in ${retryAfter} s`, {
      policy: POLICIES[refused],
      retry_after: retryAfter,
    });
  }
}
