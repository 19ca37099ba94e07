import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiExtraModels, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { answerWith, OwnedKey } from '../common/idempotency/idempotency.context';
import { Idempotent, OwnedIdempotencyKey } from '../common/idempotency/idempotency.decorator';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import {
  BulkActionDryRunResponseDto,
  BulkActionItemsPageDto,
  BulkActionResponseDto,
  BulkActionsPageDto,
  CreateBulkActionDto,
  ListBulkActionItemsQueryDto,
  ListBulkActionsQueryDto,
} from './dto/bulk-action.dto';
import { BulkActionsService } from './bulk-actions.service';

const BulkActionId = () => Param('bulk_action_id', new ParseIdPipe('bulk action'));

@ApiTags('bulk-actions')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@ApiExtraModels(BulkActionDryRunResponseDto)
@Controller('bulk-actions')
export class BulkActionsController {
  constructor(private readonly service: BulkActionsService) {}

  /**
   * Act on every run of a selection: `202` with the action, whose matched set is frozen now and
   * worked through in the background; with `dry_run: true`, `200` with how many runs match and a sample, changing nothing.
   */
  @Post()
  @RequirePermission('executions:write')
  @HttpCode(HttpStatus.ACCEPTED)
  @Idempotent()
  @ApiAcceptedResponse({ type: BulkActionResponseDto })
  @ApiOkResponse({ type: BulkActionDryRunResponseDto, description: 'A dry run' })
  @ApiErrors(400, 403, 404)
  async createBulkAction(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateBulkActionDto,
    @Res({ passthrough: true }) res: Response,
    @OwnedIdempotencyKey() key: OwnedKey | undefined,
  ): Promise<BulkActionResponseDto | BulkActionDryRunResponseDto> {
    const answer = await this.service.create(principal, dto);
    if ('dry_run' in answer) {
      res.status(HttpStatus.OK);
      answerWith(key, HttpStatus.OK);
    }
    return answer;
  }

  /** The organization's bulk actions, newest first, by cursor. */
  @Get()
  @RequirePermission('executions:read')
  @ApiErrors(400)
  listBulkActions(@CurrentPrincipal() principal: Principal, @Query() query: ListBulkActionsQueryDto): Promise<BulkActionsPageDto> {
    return this.service.list(principal, query);
  }

  /** One bulk action and its progress. */
  @Get(':bulk_action_id')
  @RequirePermission('executions:read')
  @ApiErrors(400, 403, 404)
  getBulkAction(@CurrentPrincipal() principal: Principal, @BulkActionId() id: string): Promise<BulkActionResponseDto> {
    return this.service.get(principal, id);
  }

  /** Each frozen run's outcome (and error), in the order they are acted on; `outcome=failed` for the refusals. */
  @Get(':bulk_action_id/items')
  @RequirePermission('executions:read')
  @ApiErrors(400, 403, 404)
  listBulkActionItems(
    @CurrentPrincipal() principal: Principal,
    @BulkActionId() id: string,
    @Query() query: ListBulkActionItemsQueryDto,
  ): Promise<BulkActionItemsPageDto> {
    return this.service.items(principal, id, query);
  }

  /** Stop a queued or running bulk action after its batch in progress; runs not reached stay `pending`. */
  @Post(':bulk_action_id/cancel')
  @RequirePermission('executions:write')
  @HttpCode(HttpStatus.OK)
  @Idempotent()
  @ApiErrors(400, 403, 404, 409)
  cancelBulkAction(@CurrentPrincipal() principal: Principal, @BulkActionId() id: string): Promise<BulkActionResponseDto> {
    return this.service.cancel(principal, id);
  }
}
