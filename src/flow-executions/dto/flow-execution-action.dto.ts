import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { QueryBoolean } from '../../common/validation/query-transforms';
import { EXECUTION_STATUSES, ExecutionStatus } from '../execution-status';

export class PatchStatusQueryDto {
  @ApiProperty({ enum: EXECUTION_STATUSES })
  @IsIn(EXECUTION_STATUSES)
  status: ExecutionStatus;
}

export class ReexecuteQueryDto {
  /** Re-run only the task executions marked stale instead of the whole flow. */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  only_stale?: boolean = false;
}

@ApiSchema({ name: 'FlowExecutionRedriveRequest' })
export class RedriveFlowExecutionDto {
  /** Run this task and every task downstream of it again, whatever their status; without it, every failed, cancelled or unfinished task. */
  @IsOptional()
  @IsString()
  @Length(1, 255)
  from_task?: string;
}
