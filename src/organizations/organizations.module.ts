import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsService } from './organizations.service';

@Module({ imports: [FlowExecutionsModule, EventLogModule], controllers: [OrganizationsController], providers: [OrganizationsService] })
export class OrganizationsModule {}
