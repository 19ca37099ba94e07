import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { RateCost, rowsCost } from '../common/rate-limit/rate-cost.decorator';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { CreateFlowDto, PatchFlowDto, UpdateFlowDefinitionDto } from './dto/flow.dto';
import { FlowExpansionQueryDto, ListFlowsQueryDto, ListFlowVersionsQueryDto, nextFlowsLink, nextVersionsLink, VERSIONS_MAX_LIMIT } from './dto/flow-query.dto';
import { FlowResponseDto, PaginatedFlowResponseDto } from './dto/flow-response.dto';
import { FlowVersionParamsDto, FlowVersionSummaryDto, UpdateFlowVersionMetadataDto } from './dto/flow-version.dto';
import { FlowsService } from './flows.service';

const FlowId = () => Param('flow_id', new ParseIdPipe('flow'));

@ApiTags('flows')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@RequirePermission('executions:read')
@Controller('flows')
export class FlowsController {
  constructor(private readonly service: FlowsService) {}

  /** Create a new flow in draft status, as version 1. The definition is validated (400 `invalid_dsl_input`). */
  @Post()
  @RequirePermission('flows:write')
  @ApiErrors(400, 403)
  createFlow(@CurrentPrincipal() principal: Principal, @Body() dto: CreateFlowDto, @Query() query: FlowExpansionQueryDto): Promise<FlowResponseDto> {
    return this.service.create(principal, dto, query);
  }

  /** List the flows of the caller's organization at their latest version, with paging, sorting and search. */
  @Get()
  @RateCost(rowsCost('page_size', 20, 20))
  @ApiErrors()
  async listFlows(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListFlowsQueryDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<PaginatedFlowResponseDto> {
    const page = await this.service.list(principal, query);
    if (page.nextOffset !== null) res.setHeader('Link', nextFlowsLink(req.originalUrl, page.nextOffset));
    return page.body;
  }

  /** Retrieve a flow at its latest version. */
  @Get(':flow_id')
  @ApiErrors(400, 403, 404)
  getFlow(@CurrentPrincipal() principal: Principal, @FlowId() id: string, @Query() query: FlowExpansionQueryDto): Promise<FlowResponseDto> {
    return this.service.get(principal, id, query);
  }

  /** Partially update a flow's metadata and status; the definition changes only through `PUT .../definition`. */
  @Patch(':flow_id')
  @RequirePermission('flows:write')
  @ApiErrors(400, 403, 404)
  patchFlow(
    @CurrentPrincipal() principal: Principal,
    @FlowId() id: string,
    @Body() dto: PatchFlowDto,
    @Query() query: FlowExpansionQueryDto,
  ): Promise<FlowResponseDto> {
    return this.service.update(principal, id, dto, query);
  }

  /** Soft delete a flow; it answers 404 from then on. */
  @Delete(':flow_id')
  @RequirePermission('flows:write')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 403, 404)
  deleteFlow(@CurrentPrincipal() principal: Principal, @FlowId() id: string): Promise<void> {
    return this.service.remove(principal, id);
  }

  /** Store a new definition of a draft flow as a new version (latest + 1). */
  @Put(':flow_id/definition')
  @RequirePermission('flows:write')
  @ApiErrors(400, 403, 404)
  updateFlowDefinition(
    @CurrentPrincipal() principal: Principal,
    @FlowId() id: string,
    @Body() dto: UpdateFlowDefinitionDto,
    @Query() query: FlowExpansionQueryDto,
  ): Promise<FlowResponseDto> {
    return this.service.updateDefinition(principal, id, dto, query);
  }

  /**
   * The versions of a flow, newest first, at most `limit` (default and most 100) and about 4 MiB a
   * page; a page with more after it carries `Link: <...>; rel="next"` with the `after` cursor.
   */
  @Get(':flow_id/versions')
  @RateCost(rowsCost('limit', VERSIONS_MAX_LIMIT, 10))
  @ApiErrors(400, 403, 404)
  async listFlowVersions(
    @CurrentPrincipal() principal: Principal,
    @FlowId() id: string,
    @Query() query: ListFlowVersionsQueryDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FlowResponseDto[]> {
    const page = await this.service.listVersions(principal, id, query);
    if (page.nextAfter !== null) res.setHeader('Link', nextVersionsLink(req.originalUrl, page.nextAfter));
    return page.items;
  }

  /** One version of a flow. */
  @Get(':flow_id/versions/:version')
  @ApiErrors(400, 403, 404)
  getFlowVersion(
    @CurrentPrincipal() principal: Principal,
    @FlowId() id: string,
    @Param() { version }: FlowVersionParamsDto,
    @Query() query: FlowExpansionQueryDto,
  ): Promise<FlowResponseDto> {
    return this.service.getVersion(principal, id, version, query);
  }

  /** Name a version or mark it as a favourite. */
  @Patch(':flow_id/versions/:version')
  @RequirePermission('flows:write')
  @ApiErrors(400, 403, 404)
  updateFlowVersionMetadata(
    @CurrentPrincipal() principal: Principal,
    @FlowId() id: string,
    @Param() { version }: FlowVersionParamsDto,
    @Body() dto: UpdateFlowVersionMetadataDto,
  ): Promise<FlowVersionSummaryDto> {
    return this.service.updateVersionMetadata(principal, id, version, dto);
  }
}
