import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { AuthenticatedRequest } from '../auth/auth.decorators';
import { requestIdOf } from './request-id';

/**
 * One line a request, written when the response is finished, with its id and who called. It costs
 * nothing per request when the level is above info (pino-http builds a child logger per request).
 */
export function requestLogger(logger: Logger) {
  if (!logger.isLevelEnabled('info')) return (_req: Request, _res: Response, next: NextFunction) => next();
  return (req: Request & AuthenticatedRequest, res: Response, next: NextFunction) => {
    const start = performance.now();
    res.once('finish', () => {
      const principal = req.principal;
      logger.info(
        {
          reqId: requestIdOf(req),
          method: req.method,
          url: req.originalUrl,
          status: res.statusCode,
          ms: Math.round((performance.now() - start) * 10) / 10,
          org: principal?.organizationId,
          caller: principal && `${principal.credential}:${principal.subject}`,
        },
        'request completed',
      );
    });
    next();
  };
}
