import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { nextLink } from '../common/http/next-link';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { OffsetPageQueryDto } from './dto/page-query.dto';
import { CreateServiceAccountDto, ServiceAccountCreateResponseDto, ServiceAccountResponseDto, UpdateServiceAccountDto } from './dto/service-account.dto';
import { ServiceAccountsService } from './service-accounts.service';

const AccountId = () => Param('service_account_id', new ParseIdPipe('service account'));

@ApiTags('service-accounts')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@RequirePermission('service-accounts:manage')
@Controller('service-accounts')
export class ServiceAccountsController {
  constructor(private readonly service: ServiceAccountsService) {}

  /** Create a service account in the caller's organization; API keys are issued through its `api-keys`. */
  @Post()
  @ApiErrors(403)
  createServiceAccount(@CurrentPrincipal() principal: Principal, @Body() dto: CreateServiceAccountDto): Promise<ServiceAccountCreateResponseDto> {
    return this.service.create(principal, dto);
  }

  /** List the service accounts of the caller's organization, oldest first; a page ended early by its byte budget carries `Link: <...>; rel="next"`. */
  @Get()
  @ApiErrors(403)
  async listServiceAccounts(
    @CurrentPrincipal() principal: Principal,
    @Query() query: OffsetPageQueryDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ServiceAccountResponseDto[]> {
    const page = await this.service.list(principal, query);
    if (page.nextOffset !== null) res.setHeader('Link', nextLink(req.originalUrl, { offset: String(page.nextOffset) }));
    return page.items;
  }

  /** Get a service account. */
  @Get(':service_account_id')
  @ApiErrors(400, 403, 404)
  getServiceAccount(@CurrentPrincipal() principal: Principal, @AccountId() id: string): Promise<ServiceAccountResponseDto> {
    return this.service.get(principal, id);
  }

  /** Update the name, description or role of a service account. */
  @Patch(':service_account_id')
  @ApiErrors(400, 403, 404)
  updateServiceAccount(
    @CurrentPrincipal() principal: Principal,
    @AccountId() id: string,
    @Body() dto: UpdateServiceAccountDto,
  ): Promise<ServiceAccountResponseDto> {
    return this.service.update(principal, id, dto);
  }

  /** Delete a service account and its API keys; they stop working at once. */
  @Delete(':service_account_id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 403, 404)
  deleteServiceAccount(@CurrentPrincipal() principal: Principal, @AccountId() id: string): Promise<void> {
    return this.service.remove(principal, id);
  }
}
