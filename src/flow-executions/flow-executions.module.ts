import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { FlowsModule } from '../flows/flows.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { ExecutionLifecycle } from './execution-lifecycle';
import { FlowExecutionStatsController } from './flow-execution-stats.controller';
import { FlowExecutionsController } from './flow-executions.controller';
import { FlowExecutionsRepository } from './flow-executions.repository';
import { FlowExecutionsService } from './flow-executions.service';
import { FlowRunsController } from './flow-runs.controller';
import { InputValidator } from './input-validator';
import { OrganizationSettingsController } from './organization-settings.controller';

@Module({
  imports: [FlowsModule, OrganizationsModule, EventLogModule],
  controllers: [FlowExecutionStatsController, FlowExecutionsController, FlowRunsController, OrganizationSettingsController],
  providers: [FlowExecutionsService, ExecutionLifecycle, FlowExecutionsRepository, InputValidator],
  exports: [FlowExecutionsService, ExecutionLifecycle, InputValidator],
})
export class FlowExecutionsModule {}
