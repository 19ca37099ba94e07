import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { OrganizationSettingsResponseDto, UpdateOrganizationSettingsDto } from './dto/organization-settings.dto';
import { FlowExecutionsService } from './flow-executions.service';

@ApiTags('organizations')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('organizations/settings')
export class OrganizationSettingsController {
  constructor(private readonly service: FlowExecutionsService) {}

  /** The caller's organization: its concurrency limit and how many executions run and wait. */
  @Get()
  @RequirePermission('organization:manage')
  @ApiErrors(403)
  getOrganizationSettings(@CurrentPrincipal() principal: Principal): Promise<OrganizationSettingsResponseDto> {
    return this.service.getSettings(principal);
  }

  /** Change the concurrency limit; raising it admits waiting executions at once. */
  @Put()
  @RequirePermission('organization:manage')
  @ApiErrors(403)
  updateOrganizationSettings(@CurrentPrincipal() principal: Principal, @Body() dto: UpdateOrganizationSettingsDto): Promise<OrganizationSettingsResponseDto> {
    return this.service.updateSettings(principal, dto);
  }
}
