import { Module } from '@nestjs/common';
import { OrganizationsRepository } from './organizations.repository';
import { OrganizationsService } from './organizations.service';

/** The organizations table: limits and the slot counter. Its settings endpoint lives with the executions it admits. */
@Module({ providers: [OrganizationsService, OrganizationsRepository], exports: [OrganizationsService] })
export class OrganizationsModule {}
