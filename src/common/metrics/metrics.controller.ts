import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { Public } from '../auth/auth.decorators';
import { AppError } from '../errors/app-error';
import { MetricsService } from './metrics.service';

/** Prometheus text format; open unless `METRICS_TOKEN` is set, then `Authorization: Bearer <token>`. */
@ApiExcludeController()
@Public()
@Controller('metrics')
export class MetricsController {
  private readonly tokenDigest: Buffer | null;

  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.tokenDigest = config.metricsToken ? digest(config.metricsToken) : null;
  }

  @Get()
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() res: Response): Promise<void> {
    if (this.tokenDigest) {
      const given = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
      if (!given || !timingSafeEqual(digest(given), this.tokenDigest)) throw new AppError('unauthorized', 'A valid metrics token is required');
    }
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.render());
  }
}

// Digests have one length, so the comparison takes the same time whatever was sent.
const digest = (value: string) => createHash('sha256').update(value).digest();
