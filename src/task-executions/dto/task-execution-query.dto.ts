import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';
import { QueryBoolean, QueryInt } from '../../common/validation/query-transforms';

/** The most task executions one list answers; the spec's "all" is paged by `after` beyond it. */
export const TASK_LIST_MAX_LIMIT = 1000;

export class GetTaskExecutionQueryDto {
  /** Include the credits each task execution consumed (null otherwise). */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_credits?: boolean = false;
}

export class ListTaskExecutionsQueryDto extends GetTaskExecutionQueryDto {
  /** Only task executions of this flow execution; omitted, every task execution of the organization. */
  @IsOptional()
  @IsUUID()
  flow_execution_id?: string;

  /** Only attempts of this task (exact, case-sensitive). */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  task_name?: string;

  /** Only this attempt number (0 = first execution). */
  @ApiPropertyOptional({ type: 'integer', minimum: 0 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(0)
  @Max(2_147_483_647)
  task_execution_idx?: number;

  /** At most this many task executions (newest first); a full page carries `Link: <...>; rel="next"`. */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: TASK_LIST_MAX_LIMIT, default: TASK_LIST_MAX_LIMIT })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(TASK_LIST_MAX_LIMIT)
  limit?: number = TASK_LIST_MAX_LIMIT;

  /** Keyset cursor: the page starts right after this task execution (of the caller's organization). */
  @IsOptional()
  @IsUUID()
  after?: string;
}

export class UpdateTaskExecutionQueryDto {
  /** After the update, re-execute the flow's stale task executions (those downstream of an edit). */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  execute_flow?: boolean = false;
}
