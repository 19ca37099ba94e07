import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { RetentionRepository } from './retention.repository';
import { RetentionService } from './retention.service';

/** Deletes executions past their flow's `settings.ttl.seconds`; see RetentionService. */
@Module({ imports: [EventLogModule, OrganizationsModule], providers: [RetentionService, RetentionRepository] })
export class RetentionModule {}
