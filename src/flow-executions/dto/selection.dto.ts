import { ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ArrayMaxSize, IsIn, IsInt, IsISO8601, IsOptional, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { QueryArray, QueryInt, QueryIntArray } from '../../common/validation/query-transforms';
import { EXECUTION_STATUSES, ExecutionStatus } from '../execution-status';

const TAG = /^[^:]+:.+$/;
/** Bounds of the selection's filters (422 beyond): each tag filter is one index probe per execution walked. */
export const MAX_TAG_FILTERS = 10;
export const MAX_STATUS_FILTERS = EXECUTION_STATUSES.length;
export const MAX_VERSION_FILTERS = 100;
const MAX_TAG_LENGTH = 301; // tag_type (100) + ':' + tag (200)
const MAX_INT = 2147483647;

/**
 * The one selection of runs (docs/api.md#selections): the list's filters, the stats' and a bulk
 * action's. In a query string arrays repeat the key (`status=a&status=b`); in a JSON body they are arrays.
 */
@ApiSchema({ name: 'FlowExecutionSelection' })
export class ExecutionSelectionDto {
  /** UUID of the flow whose executions are selected. */
  @IsUUID()
  flow_id: string;

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

  /** Only executions of these flow versions (at most 100). */
  @ApiPropertyOptional({ type: 'integer', isArray: true, minimum: 1 })
  @IsOptional()
  @QueryIntArray()
  @ArrayMaxSize(MAX_VERSION_FILTERS)
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(MAX_INT, { each: true })
  flow_version?: number[];

  /** Run number at least this (inclusive). */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_INT })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(MAX_INT)
  run_number_min?: number;

  /** Run number at most this (inclusive). */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_INT })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(MAX_INT)
  run_number_max?: number;

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
