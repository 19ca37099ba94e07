import { Body, Controller, Get, Param, Patch, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiUpstreamOperation } from '../common/http/api-errors.decorator';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { FlowTaskTagResponseDto } from './dto/task-execution.dto';
import { FlowTagsQueryDto, ListTaskTagsQueryDto, PatchFlowTaskTagsRequestDto, PatchFlowTaskTagsResponseDto } from './dto/task-tag.dto';
import { TaskTagsService } from './task-tags.service';

@ApiTags('task-tags')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('task-tags')
export class TaskTagsController {
  constructor(private readonly service: TaskTagsService) {}

  /** Add or remove task tags in one transaction; one result per operation, in request order. Removal is a soft delete. */
  @Patch()
  @RequirePermission('task-tags:write')
  @ApiUpstreamOperation('patch_flow_task_tags_api_task_tags_patch', PatchFlowTaskTagsResponseDto, 400, 403, 404)
  patch(@CurrentPrincipal() principal: Principal, @Body() dto: PatchFlowTaskTagsRequestDto): Promise<PatchFlowTaskTagsResponseDto> {
    return this.service.patch(principal, dto);
  }

  /** The active tags of a flow execution, or of one of its tasks, oldest first. */
  @Get()
  @RequirePermission('executions:read')
  @ApiUpstreamOperation('list_task_tags_api_task_tags_get', [FlowTaskTagResponseDto], 403, 404)
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListTaskTagsQueryDto): Promise<FlowTaskTagResponseDto[]> {
    return this.service.list(principal, query);
  }
}

@ApiTags('flows')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('flows')
export class FlowTagsController {
  constructor(private readonly service: TaskTagsService) {}

  /** The distinct active tags (`key:value`, sorted) over the flow's executions, or one task's; at most 1000. */
  @Get(':flow_id/tags')
  @RequirePermission('executions:read')
  @ApiUpstreamOperation('get_flow_tags_api_flows__flow_id__tags_get', [String], 400, 403, 404)
  flowTags(
    @CurrentPrincipal() principal: Principal,
    @Param('flow_id', new ParseIdPipe('flow')) flowId: string,
    @Query() query: FlowTagsQueryDto,
  ): Promise<string[]> {
    return this.service.flowTags(principal, flowId, query);
  }
}
