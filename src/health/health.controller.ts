import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../common/auth/auth.decorators';
import { AppError } from '../common/errors/app-error';
import { draining } from '../common/http/drain';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
  ) {}

  /** The process is up. */
  @Get('live')
  @HealthCheck()
  liveness() {
    return this.health.check([]);
  }

  /** The database answers, and the process is not shutting down (503 from the first moment it drains). */
  @Get('ready')
  @HealthCheck()
  readiness() {
    if (draining.aborted) throw new AppError('service_unavailable', 'The service is shutting down');
    return this.health.check([() => this.db.pingCheck('database', { timeout: 2000 })]);
  }
}
