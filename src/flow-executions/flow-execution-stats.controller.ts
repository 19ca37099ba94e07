import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { FlowExecutionStatsQueryDto, FlowExecutionStatsResponseDto } from './dto/stats.dto';
import { FlowExecutionsService } from './flow-executions.service';

/** Its own controller, listed before FlowExecutionsController: /flow-executions/stats must match before /flow-executions/:id. */
@ApiTags('flow-executions')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('flow-executions/stats')
export class FlowExecutionStatsController {
  constructor(private readonly service: FlowExecutionsService) {}

  /**
   * Exact counts of a flow's selected runs by status, flow version or UTC day of creation, and the
   * p50 / p95 / max duration of the finished ones (completed, failed, cancelled), per group and overall.
   */
  @Get()
  @RequirePermission('executions:read')
  @ApiErrors(403, 404)
  getFlowExecutionStats(@CurrentPrincipal() principal: Principal, @Query() query: FlowExecutionStatsQueryDto): Promise<FlowExecutionStatsResponseDto> {
    return this.service.stats(principal, query);
  }
}
