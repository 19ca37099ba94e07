import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { QueryInt } from '../../common/validation/query-transforms';

/** Characters of a service account's or an API key's `description` (docs/api.md#bounds). */
export const DESCRIPTION_MAX_LENGTH = 1000;

/** `offset`/`limit` paging of the service-account and API-key lists, as in the spec. */
export class OffsetPageQueryDto {
  @ApiProperty({ type: 'integer', minimum: 0, default: 0, required: false, description: 'Number of records to skip for pagination' })
  @QueryInt()
  @IsInt()
  @Min(0)
  offset: number = 0;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 1000, default: 100, required: false, description: 'Maximum number of records to return' })
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 100;
}

/** One page of a list paged by `offset`; `nextOffset` when it ended early by its byte budget (docs/api.md#page-size-budgets). */
export interface OffsetPage<T> {
  items: T[];
  nextOffset: number | null;
}
