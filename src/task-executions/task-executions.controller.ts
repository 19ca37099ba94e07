import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { RateCost, rowsCost } from '../common/rate-limit/rate-cost.decorator';
import type { OwnedKey } from '../common/idempotency/idempotency.context';
import { Idempotent, OwnedIdempotencyKey } from '../common/idempotency/idempotency.decorator';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { GetTaskExecutionQueryDto, ListTaskExecutionsQueryDto, UpdateTaskExecutionQueryDto } from './dto/task-execution-query.dto';
import {
  CreateTaskExecutionDto,
  ListTaskExecutionsResponseDto,
  nextTaskPageLink,
  TaskExecutionResponseDto,
  UpdateTaskExecutionDto,
} from './dto/task-execution.dto';
import { TaskHeartbeatRequestDto, TaskHeartbeatResponseDto } from './dto/task-heartbeat.dto';
import { TaskExecutionsService } from './task-executions.service';

@ApiTags('task-executions')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('task-executions')
export class TaskExecutionsController {
  constructor(private readonly service: TaskExecutionsService) {}

  /** Record a task execution (workers); the organization is the parent flow execution's. */
  @Post()
  @RequirePermission('executions:report')
  @Idempotent()
  @ApiErrors(400, 403, 404, 409)
  createTaskExecution(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateTaskExecutionDto,
    @OwnedIdempotencyKey() key: OwnedKey | undefined,
  ): Promise<TaskExecutionResponseDto> {
    return this.service.create(principal, dto, key);
  }

  /** Update a task execution found by (flow_execution_id, task_name, task_execution_idx); optionally re-execute its stale downstream tasks. */
  @Put()
  @RequirePermission('executions:report')
  @ApiErrors(400, 403, 404, 409)
  @ApiBody({ type: TaskExecutionResponseDto, description: 'A TaskExecutionAPI, as the spec has it; server-kept fields are ignored' })
  updateTaskExecution(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: UpdateTaskExecutionDto,
    @Query() query: UpdateTaskExecutionQueryDto,
  ): Promise<TaskExecutionResponseDto> {
    return this.service.update(principal, dto, query.execute_flow === true);
  }

  /**
   * List task executions of the organization, newest first, with their tags: at most `limit`
   * (default and most 1000, where the upstream API returns all); a full page carries
   * `Link: <...>; rel="next"` with the `after` cursor.
   */
  @Get()
  @RequirePermission('executions:read')
  @RateCost(rowsCost('limit', 1000))
  @ApiErrors(400, 403, 404)
  async listTaskExecutions(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListTaskExecutionsQueryDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ListTaskExecutionsResponseDto> {
    const page = await this.service.list(principal, query);
    if (page.nextCursor) res.setHeader('Link', nextTaskPageLink(req.originalUrl, page.nextCursor));
    return page.body;
  }

  /** Retrieve one task execution with its tags. */
  @Get(':task_execution_id')
  @RequirePermission('executions:read')
  @ApiErrors(400, 403, 404)
  getTaskExecution(
    @CurrentPrincipal() principal: Principal,
    @Param('task_execution_id', new ParseIdPipe('task execution')) id: string,
    @Query() query: GetTaskExecutionQueryDto,
  ): Promise<TaskExecutionResponseDto> {
    return this.service.get(principal, id, query);
  }

  /**
   * A running task's heartbeat (workers): keeps it from its heartbeat timeout, stores `details` as
   * its latest progress, and says whether its run is being cancelled. A finished task answers 409.
   */
  @Post(':task_execution_id/heartbeat')
  @RequirePermission('executions:report')
  @HttpCode(200)
  @ApiErrors(400, 403, 404, 409)
  heartbeatTaskExecution(
    @CurrentPrincipal() principal: Principal,
    @Param('task_execution_id', new ParseIdPipe('task execution')) id: string,
    @Body() dto: TaskHeartbeatRequestDto,
  ): Promise<TaskHeartbeatResponseDto> {
    return this.service.heartbeat(principal, id, dto);
  }
}
