import { SetMetadata } from '@nestjs/common';

export const RATE_COST = 'rate-limit:cost';

/**
 * Tokens a request of this route takes from the rate-limit buckets (1 when undecorated), from its
 * raw query: a list costs by the rows it asks for, since rows, not requests, are what cost.
 */
export const RateCost = (cost: (query: Record<string, unknown>) => number) => SetMetadata(RATE_COST, cost);

/**
 * One token per `per` rows asked for in `param` (`fallback` when absent or malformed): 100 for rows
 * of a few hundred bytes (executions, task executions), 10 or 20 for rows that carry a flow definition.
 */
export const rowsCost =
  (param: string, fallback: number, per = 100) =>
  (query: Record<string, unknown>) => {
    const rows = Number(query[param]);
    return Math.ceil((Number.isInteger(rows) && rows > 0 ? Math.min(rows, 1000) : fallback) / per);
  };
