import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional } from 'class-validator';
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
