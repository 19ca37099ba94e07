import { Body, Controller, Get, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { Idempotent } from '../common/idempotency/idempotency.decorator';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { GetTaskExecutionQueryDto, ListTaskExecutionsQueryDto, UpdateTaskExecutionQueryDto } from './dto/task-execution-query.dto';
import {
  CreateTaskExecutionDto,
  ListTaskExecutionsResponseDto,
  TaskExecutionResponseDto,
  UpdateTaskExecutionDto,
} from './dto/task-execution.dto';
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
  create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateTaskExecutionDto): Promise<TaskExecutionResponseDto> {
    return this.service.create(principal, dto);
  }

  /** Update a task execution found by (flow_execution_id, task_name, task_execution_idx); optionally re-execute its stale downstream tasks. */
  @Put()
  @RequirePermission('executions:report')
  @ApiErrors(400, 403, 404, 409)
  update(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: UpdateTaskExecutionDto,
    @Query() query: UpdateTaskExecutionQueryDto,
  ): Promise<TaskExecutionResponseDto> {
    return this.service.update(principal, dto, query.execute_flow === true);
  }

  /** List task executions of the organization, newest first, with their tags. */
  @Get()
  @RequirePermission('executions:read')
  @ApiErrors(403, 404)
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListTaskExecutionsQueryDto): Promise<ListTaskExecutionsResponseDto> {
    return this.service.list(principal, query);
  }

  /** Retrieve one task execution with its tags. */
  @Get(':task_execution_id')
  @RequirePermission('executions:read')
  @ApiErrors(400, 403, 404)
  get(
    @CurrentPrincipal() principal: Principal,
    @Param('task_execution_id', new ParseIdPipe('task execution')) id: string,
    @Query() query: GetTaskExecutionQueryDto,
  ): Promise<TaskExecutionResponseDto> {
    return this.service.get(principal, id, query);
  }
}
