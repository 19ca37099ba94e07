import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { AddTaskStatusRequestDto, FlowTaskStatusResponseDto } from './dto/task-status.dto';
import { TaskExecutionsService } from './task-executions.service';

const ExecutionId = () => Param('flow_execution_id', new ParseIdPipe('execution'));

/** A run's task status history, as workers report it; documented with the run's other operations. */
@ApiTags('flow-executions')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('flow-executions')
export class TaskStatusesController {
  constructor(private readonly service: TaskExecutionsService) {}

  /** Report a batch of task statuses (workers). */
  @Post(':flow_execution_id/task-status')
  @RequirePermission('executions:report')
  @HttpCode(200)
  @ApiErrors(400, 403, 404)
  addFlowTaskStatuses(
    @CurrentPrincipal() principal: Principal,
    @ExecutionId() id: string,
    @Body() dto: AddTaskStatusRequestDto,
  ): Promise<FlowTaskStatusResponseDto[]> {
    return this.service.addStatuses(principal, id, dto);
  }
}
