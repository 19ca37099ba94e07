import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';
import { QueryBoolean, QueryInt } from '../../common/validation/query-transforms';
import { ExecutionSelectionDto } from './selection.dto';

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

/** The selection's filters (docs/api.md#selections), then the list's own: what each row carries, order and paging. */
export class ListFlowExecutionsQueryDto extends ExecutionSelectionDto {
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

  @ApiPropertyOptional({ enum: ['created_at', 'updated_at'], default: 'created_at' })
  @IsOptional()
  @IsIn(['created_at', 'updated_at'])
  sort_field?: 'created_at' | 'updated_at' = 'created_at';

  @ApiPropertyOptional({ enum: ['asc', 'desc'], default: 'desc' })
  @IsOptional()
  @IsIn(['asc', 'desc'])
  sort_direction?: 'asc' | 'desc' = 'desc';

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
}
