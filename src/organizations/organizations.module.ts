import { Module } from '@nestjs/common';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsService } from './organizations.service';

@Module({ imports: [FlowExecutionsModule], controllers: [OrganizationsController], providers: [OrganizationsService] })
export class OrganizationsModule {}
