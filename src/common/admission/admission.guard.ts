import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { AuthenticatedRequest } from '../auth/auth.decorators';
import { AppError } from '../errors/app-error';
import { RATE_COST } from '../rate-limit/rate-cost.decorator';
import { AdmissionService } from './admission.service';
import type { Refusal } from './fair-scheduler';

type CostOf = (query: Record<string, unknown>) => number;

/**
 * Fair admission in front of the handlers, once the caller's organization is known
 * (docs/api.md#fair-admission): a slot at once when the process is not busy, else a place in the
 * organization's queue. A route's cost is its `@RateCost` (1 when undecorated).
 */
@Injectable()
export class AdmissionGuard implements CanActivate {
  // Metadata per handler, read once: the hot path never calls the reflector.
  private readonly costs = new Map<object, CostOf | null>();

  constructor(
    private readonly admission: AdmissionService,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const scheduler = this.admission.scheduler;
    if (!scheduler) return true;
    const http = context.switchToHttp();
    const req = http.getRequest<Request & AuthenticatedRequest>();
    const principal = req.principal;
    if (!principal) return true; // public routes (health, docs)
    const handler = context.getHandler();
    let costOf = this.costs.get(handler);
    if (costOf === undefined) {
      costOf = this.reflector.get<CostOf | undefined>(RATE_COST, handler) ?? null;
      this.costs.set(handler, costOf);
    }
    const cost = costOf ? scheduler.clamp(costOf(req.query as Record<string, unknown>)) : 1;
    const res = http.getResponse<Response>();
    const slot = scheduler.tryAcquire(principal.organizationId, cost);
    if (slot) {
      this.admission.hold(res, slot);
      return true;
    }
    return this.queue(principal.organizationId, cost, res);
  }

  private async queue(organizationId: string, cost: number, res: Response): Promise<boolean> {
    const ticket = this.admission.scheduler!.wait(organizationId, cost);
    const gone = () => ticket.cancel();
    res.once('close', gone);
    try {
      this.admission.hold(res, await ticket.granted);
      return true;
    } catch (reason) {
      throw this.refusal(reason as Refusal, res);
    } finally {
      res.off('close', gone);
    }
  }

  private refusal(reason: Refusal, res: Response): AppError {
    this.admission.refused(reason);
    // An organization past its queue waits for its own requests; an overloaded process for everyone's.
    const retryAfter = reason === 'organization_queue_full' ? 1 : 2;
    res.setHeader('Retry-After', String(retryAfter));
    const details = { policy: 'admission', reason, retry_after: retryAfter };
    return reason === 'organization_queue_full'
      ? new AppError('rate_limited', `Too many requests of this organization waiting; retry in ${retryAfter} s`, details)
      : new AppError('service_unavailable', `The server is busy; retry in ${retryAfter} s`, details);
  }
}
