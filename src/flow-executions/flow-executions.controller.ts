import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { RateCost, rowsCost } from '../common/rate-limit/rate-cost.decorator';
import type { OwnedKey } from '../common/idempotency/idempotency.context';
import { Idempotent, OwnedIdempotencyKey } from '../common/idempotency/idempotency.decorator';
import { ApiLongPoll, preferredWait, replyConditional } from '../common/http/prefer';
import { IncomingTrace, TraceContext } from '../common/http/trace-context';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { PatchStatusQueryDto, ReexecuteQueryDto, RedriveFlowExecutionDto } from './dto/flow-execution-action.dto';
import { GetFlowExecutionQueryDto, ListFlowExecutionsQueryDto } from './dto/flow-execution-query.dto';
import { CreateFlowExecutionDto, FlowExecutionResponseDto, FlowExecutionResponseWithRunNumberDto, nextPageLink } from './dto/flow-execution.dto';
import { FlowExecutionsService } from './flow-executions.service';

const ExecutionId = () => Param('flow_execution_id', new ParseIdPipe('execution'));

@ApiTags('flow-executions')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('flow-executions')
export class FlowExecutionsController {
  constructor(private readonly service: FlowExecutionsService) {}

  /** Create a flow execution of the flow's latest version; it runs at once when the organization has a free slot. */
  @Post()
  @RequirePermission('executions:write')
  @Idempotent()
  @ApiErrors(400, 403, 404)
  createFlowExecution(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateFlowExecutionDto,
    @IncomingTrace() trace: TraceContext | null,
    @OwnedIdempotencyKey() key: OwnedKey | undefined,
  ): Promise<FlowExecutionResponseDto> {
    return this.service.create(principal, dto, trace, key);
  }

  /** List a flow's executions; a full page carries `Link: <...>; rel="next"` built on the keyset cursor. */
  @Get()
  @RequirePermission('executions:read')
  @RateCost(rowsCost('page_size', 10))
  @ApiErrors(400, 403, 404)
  async listFlowExecutions(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListFlowExecutionsQueryDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FlowExecutionResponseWithRunNumberDto[]> {
    const page = await this.service.list(principal, query);
    if (page.nextCursor) res.setHeader('Link', nextPageLink(req.originalUrl, page.nextCursor));
    return page.items as unknown as FlowExecutionResponseWithRunNumberDto[];
  }

  /**
   * Retrieve one flow execution, optionally with its run number and total credits. Carries a
   * strong ETag; `If-None-Match` with the current one answers 304 without a body, and with
   * `Prefer: wait=N` waits up to N seconds for the execution to change (a long-poll).
   */
  @Get(':flow_execution_id')
  @RequirePermission('executions:read')
  @ApiLongPoll(FlowExecutionResponseWithRunNumberDto)
  @ApiErrors(400, 403, 404)
  async getFlowExecution(
    @CurrentPrincipal() principal: Principal,
    @ExecutionId() id: string,
    @Query() query: GetFlowExecutionQueryDto,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Headers('prefer') prefer: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const wait = preferredWait(prefer);
    replyConditional(res, await this.service.waitForChange(principal, { id }, query, ifNoneMatch, wait, res), wait);
  }

  /** Soft delete: the execution answers 404 afterwards but keeps its data and run number. Idempotent. */
  @Delete(':flow_execution_id')
  @RequirePermission('executions:write')
  @HttpCode(204)
  @ApiErrors(400, 403, 404)
  deleteFlowExecution(@CurrentPrincipal() principal: Principal, @ExecutionId() id: string): Promise<void> {
    return this.service.remove(principal, id);
  }

  /** Cancel: a running execution is asked to stop (cancel_requested), a queued one is cancelled at once. */
  @Post(':flow_execution_id/cancel')
  @RequirePermission('executions:write')
  @HttpCode(204)
  @Idempotent()
  @ApiErrors(400, 403, 404, 409)
  cancelFlowExecution(@CurrentPrincipal() principal: Principal, @ExecutionId() id: string, @OwnedIdempotencyKey() key: OwnedKey | undefined): Promise<void> {
    return this.service.cancel(principal, id, key);
  }

  /** Re-execute on the flow's latest version, the whole run or only its stale tasks. */
  @Post(':flow_execution_id/execute')
  @RequirePermission('executions:write')
  @HttpCode(204)
  @Idempotent()
  @ApiErrors(400, 403, 404, 409)
  executeFlow(
    @CurrentPrincipal() principal: Principal,
    @ExecutionId() id: string,
    @Query() query: ReexecuteQueryDto,
    @IncomingTrace() trace: TraceContext | null,
    @OwnedIdempotencyKey() key: OwnedKey | undefined,
  ): Promise<void> {
    return this.service.reexecute(principal, id, query.only_stale === true, { trace, key });
  }

  /**
   * Redrive a failed or cancelled execution: its failed, cancelled and unfinished tasks (or
   * `from_task` and everything downstream of it) go back to queued, completed ones keep their
   * outputs, and the run goes back to running (queued without a free slot) with the same id and
   * run number; `redrive_count` goes up. 409 from any other status.
   */
  @Post(':flow_execution_id/redrive')
  @RequirePermission('executions:write')
  @HttpCode(200)
  @Idempotent()
  @ApiErrors(400, 403, 404, 409)
  redriveFlowExecution(
    @CurrentPrincipal() principal: Principal,
    @ExecutionId() id: string,
    @Body() dto: RedriveFlowExecutionDto,
  ): Promise<FlowExecutionResponseDto> {
    return this.service.redrive(principal, id, dto.from_task);
  }

  /**
   * Move the execution to another status (workers); only the transitions of the status machine are allowed.
   *
   * @remarks Needs `executions:report`. A move that is a user's decision rather than a progress
   * report (to `deleted`, to `cancel_requested`, or `queued` → `cancelled`) needs `executions:write`
   * as well, else 403 `forbidden` naming the permission, and nothing changes. A worker reports
   * progress and acknowledges a cancellation (`cancel_requested` → `cancelled`); users delete and
   * cancel through `DELETE` and `POST .../cancel`.
   */
  @Patch(':flow_execution_id/status')
  @RequirePermission('executions:report')
  @ApiErrors(400, 403, 404, 409)
  patchFlowExecutionStatus(
    @CurrentPrincipal() principal: Principal,
    @ExecutionId() id: string,
    @Query() query: PatchStatusQueryDto,
  ): Promise<FlowExecutionResponseDto> {
    return this.service.patchStatus(principal, id, query.status);
  }
}
