import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventLog } from '../event-log/event-log.service';
import { FlowExecutionsRepository } from '../flow-executions/flow-executions.repository';
import { FlowExecutionsService } from '../flow-executions/flow-executions.service';
import { OrganizationSettingsResponseDto, UpdateOrganizationSettingsDto } from './dto/organization-settings.dto';

@Injectable()
export class OrganizationsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly executions: FlowExecutionsRepository,
    private readonly executionsService: FlowExecutionsService,
    private readonly events: EventLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async getSettings(principal: Principal): Promise<OrganizationSettingsResponseDto> {
    return this.dataSource.transaction((m) => this.read(m, principal.organizationId));
  }

  /** A raised limit admits waiting executions at once, in the same transaction. */
  async updateSettings(principal: Principal, dto: UpdateOrganizationSettingsDto): Promise<OrganizationSettingsResponseDto> {
    return this.events.transaction(async (m) => {
      await this.executions.lockOrganization(m, principal.organizationId);
      await m.query(`UPDATE organizations SET max_concurrent_executions = $2, updated_at = now() WHERE id = $1`, [
        principal.organizationId,
        dto.max_concurrent_executions,
      ]);
      await this.executionsService.admitWaiting(m, principal.organizationId, dto.max_concurrent_executions);
      return this.read(m, principal.organizationId);
    });
  }

  private async read(m: EntityManager, organizationId: string): Promise<OrganizationSettingsResponseDto> {
    const usage = await this.executions.slotUsage(m, organizationId);
    return {
      organization_id: organizationId,
      max_concurrent_executions: usage.limit ?? this.config.defaultOrgConcurrencyLimit,
      running_executions: usage.active,
      queued_executions: usage.queued,
    };
  }
}
