import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { QueryArray, QueryBoolean, QueryInt } from '../../common/validation/query-transforms';
import { EXECUTION_STATUSES, ExecutionStatus } from '../execution-status';

export class GetFlowExecutionQueryDto {
  /** Include the execution's run number within its flow (stored at creation: no extra cost). */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_run_number?: boolean = false;

  /** Include the total credits of the execution's task executions. */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_credits?: boolean = false;
}

const TAG = /^[^:]+:.+$/;
/** Bounds of the list's filters (422 beyond): each tag filter is one index probe per execution walked. */
export const MAX_TAG_FILTERS = 10;
export const MAX_STATUS_FILTERS = EXECUTION_STATUSES.length;
const MAX_TAG_LENGTH = 301; // tag_type (100) + ':' + tag (200)

export class ListFlowExecutionsQueryDto extends GetFlowExecutionQueryDto {
  /** UUID of the flow to list executions for. */
  @IsUUID()
  flow_id: string;

  @ApiPropertyOptional({ enum: ['created_at', 'updated_at'], default: 'created_at' })
  @IsOptional()
  @IsIn(['created_at', 'updated_at'])
  sort_field?: 'created_at' | 'updated_at' = 'created_at';

  @ApiPropertyOptional({ enum: ['asc', 'desc'], default: 'desc' })
  @IsOptional()
  @IsIn(['asc', 'desc'])
  sort_direction?: 'asc' | 'desc' = 'desc';

  /** Only executions whose status is any of these (at most 10). */
  @ApiPropertyOptional({ enum: EXECUTION_STATUSES, isArray: true })
  @IsOptional()
  @QueryArray()
  @ArrayMaxSize(MAX_STATUS_FILTERS)
  @IsIn(EXECUTION_STATUSES, { each: true })
  status?: ExecutionStatus[];

  /** Leave out executions whose status is any of these (at most 10). */
  @ApiPropertyOptional({ enum: EXECUTION_STATUSES, isArray: true })
  @IsOptional()
  @QueryArray()
  @ArrayMaxSize(MAX_STATUS_FILTERS)
  @IsIn(EXECUTION_STATUSES, { each: true })
  status_exclude?: ExecutionStatus[];

  /** Only executions having a task execution with any of these `key:value` tags (at most 10). */
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @QueryArray()
  @ArrayMaxSize(MAX_TAG_FILTERS)
  @MaxLength(MAX_TAG_LENGTH, { each: true })
  @Matches(TAG, { each: true, message: 'each tag must be of the form key:value' })
  tags?: string[];

  /** Leave out executions having a task execution with any of these `key:value` tags (at most 10). */
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @QueryArray()
  @ArrayMaxSize(MAX_TAG_FILTERS)
  @MaxLength(MAX_TAG_LENGTH, { each: true })
  @Matches(TAG, { each: true, message: 'each tag must be of the form key:value' })
  tags_exclude?: string[];

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 10000, default: 1 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(10000)
  page?: number = 1;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 10 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(1000)
  page_size?: number = 10;

  /** Keyset cursor: the page starts right after this execution, in the chosen order. */
  @IsOptional()
  @IsUUID()
  start_from_execution_id?: string;

  /** Created at or after (inclusive, ISO 8601). */
  @IsOptional()
  @IsISO8601({ strict: true })
  created_after?: string;

  /** Created at or before (inclusive, ISO 8601). */
  @IsOptional()
  @IsISO8601({ strict: true })
  created_before?: string;

  /** Last updated at or after (inclusive, ISO 8601). */
  @IsOptional()
  @IsISO8601({ strict: true })
  updated_after?: string;

  /** Last updated at or before (inclusive, ISO 8601). */
  @IsOptional()
  @IsISO8601({ strict: true })
  updated_before?: string;
}
