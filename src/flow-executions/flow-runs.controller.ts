import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { ApiLongPoll, preferredWait, replyConditional } from '../common/http/prefer';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { GetFlowExecutionQueryDto } from './dto/flow-execution-query.dto';
import { FlowExecutionResponseWithRunNumberDto } from './dto/flow-execution.dto';
import { RunNumberParamsDto } from './dto/run-number-params.dto';
import { FlowExecutionsService } from './flow-executions.service';

@ApiTags('flow-executions')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('flows/:flow_id/executions')
export class FlowRunsController {
  constructor(private readonly service: FlowExecutionsService) {}

  /**
   * The execution of a flow with that run number ("run #42"), answered as the retrieve endpoint
   * answers with `include_run_number=true`: ETag, `If-None-Match` → 304, `Prefer: wait=N`.
   */
  @Get(':run_number')
  @RequirePermission('executions:read')
  @ApiLongPoll(FlowExecutionResponseWithRunNumberDto)
  @ApiErrors(400, 403, 404)
  async getByRunNumber(
    @CurrentPrincipal() principal: Principal,
    @Param('flow_id', new ParseIdPipe('flow')) flowId: string,
    @Param() { run_number: runNumber }: RunNumberParamsDto,
    @Query() query: GetFlowExecutionQueryDto,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Headers('prefer') prefer: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const wait = preferredWait(prefer);
    replyConditional(res, await this.service.waitForChange(principal, { flowId, runNumber }, query, ifNoneMatch, wait, res), wait);
  }
}
