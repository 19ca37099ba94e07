import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { nextLink } from '../common/http/next-link';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { ApiKeyCreateResponseDto, ApiKeyResponseDto, CreateApiKeyDto, UpdateApiKeyDto } from './dto/api-key.dto';
import { OffsetPageQueryDto } from './dto/page-query.dto';
import { ServiceAccountsService } from './service-accounts.service';

const AccountId = () => Param('service_account_id', new ParseIdPipe('service account'));
const KeyId = () => Param('api_key_id', new ParseIdPipe('API key'));

@ApiTags('service-accounts')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@RequirePermission('service-accounts:manage')
@Controller('service-accounts/:service_account_id/api-keys')
export class ApiKeysController {
  constructor(private readonly service: ServiceAccountsService) {}

  /** List the API keys of a service account, oldest first; only their `token_prefix` is shown. A page ended early by its byte budget carries `Link: <...>; rel="next"`. */
  @Get()
  @ApiErrors(400, 403, 404)
  async listServiceAccountApiKeys(
    @CurrentPrincipal() principal: Principal,
    @AccountId() accountId: string,
    @Query() query: OffsetPageQueryDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ApiKeyResponseDto[]> {
    const page = await this.service.listKeys(principal, accountId, query);
    if (page.nextOffset !== null) res.setHeader('Link', nextLink(req.originalUrl, { offset: String(page.nextOffset) }));
    return page.items;
  }

  /** Issue an API key; the response carries the full token, the only time it is shown. */
  @Post()
  @ApiErrors(400, 403, 404)
  createServiceAccountApiKey(
    @CurrentPrincipal() principal: Principal,
    @AccountId() accountId: string,
    @Body() dto: CreateApiKeyDto,
  ): Promise<ApiKeyCreateResponseDto> {
    return this.service.createKey(principal, accountId, dto);
  }

  /** Update the name or description of an API key. */
  @Patch(':api_key_id')
  @ApiErrors(400, 403, 404)
  updateApiKey(
    @CurrentPrincipal() principal: Principal,
    @AccountId() accountId: string,
    @KeyId() keyId: string,
    @Body() dto: UpdateApiKeyDto,
  ): Promise<ApiKeyResponseDto> {
    return this.service.updateKey(principal, accountId, keyId, dto);
  }

  /** Delete an API key; it stops working at once. */
  @Delete(':api_key_id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 403, 404)
  deleteApiKey(@CurrentPrincipal() principal: Principal, @AccountId() accountId: string, @KeyId() keyId: string): Promise<void> {
    return this.service.removeKey(principal, accountId, keyId);
  }
}
