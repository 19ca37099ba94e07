import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { FlowExecutionsModule } from '../flow-executions/flow-executions.module';
import { TaskExecutionsModule } from '../task-executions/task-executions.module';
import { LivenessService } from './liveness.service';

/** Fires the timeouts of flows' `settings.timeouts`; see LivenessService. */
@Module({ imports: [FlowExecutionsModule, TaskExecutionsModule, EventLogModule], providers: [LivenessService], exports: [LivenessService] })
export class LivenessModule {}
