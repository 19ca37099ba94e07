import { ApiPropertyOptional } from '@nestjs/swagger';
import { plainToInstance, Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUUID, Max, Min, ValidateNested } from 'class-validator';
import { QueryBoolean, QueryInt } from '../../common/validation/query-transforms';
import { nextLink } from '../../common/http/next-link';

/** The expansion parameters every operation returning a FlowResponse accepts. */
export class FlowExpansionQueryDto {
  /** Include `task_names`: the tasks in topological (execution) order. */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_ordered_task_names?: boolean = false;

  /** Include `validation_errors`: DSL problems of the definition, an empty list for a valid flow. */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_validation_errors?: boolean = false;

  /** Accepted for compatibility; this service has no task-executor integrations to ask. */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_dynamic_data?: boolean = false;

  /** Accepted for compatibility; this service has no task-executor output schemas. */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_output_schemas?: boolean = false;

  /** Accepted for compatibility; input schemas are already in the tasks' `parameters.input_schema`. */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_input_schema?: boolean = false;

  /** Accepted for compatibility; this service has no reference modes. */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_default_reference_modes?: boolean = false;
}

/** The most versions one page of `GET /flows/{id}/versions` answers (a deviation: upstream answers them all). */
export const VERSIONS_MAX_LIMIT = 100;

export class ListFlowVersionsQueryDto extends FlowExpansionQueryDto {
  /** At most this many versions, newest first; a page with more after it carries `Link: <...>; rel="next"`. */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: VERSIONS_MAX_LIMIT, default: VERSIONS_MAX_LIMIT })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(VERSIONS_MAX_LIMIT)
  limit?: number = VERSIONS_MAX_LIMIT;

  /** Cursor: the page starts with the version right below this one. */
  @ApiPropertyOptional({ type: 'integer', minimum: 1 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  after?: number;
}

/** RFC 8288 link to the rest of a flows page ended early by its size: the same query from `offset`. */
export function nextFlowsLink(originalUrl: string, offset: number): string {
  return nextLink(originalUrl, { offset: String(offset) }, ['page']);
}

/** RFC 8288 link to the next page of versions: the same query, after the last version sent. */
export function nextVersionsLink(originalUrl: string, after: number): string {
  return nextLink(originalUrl, { after: String(after) });
}

export const TAG_FILTER_MODES = ['contains_any', 'not_contains_any'] as const;

export class TagFilterDto {
  @ApiPropertyOptional({ enum: TAG_FILTER_MODES, default: 'contains_any' })
  @IsOptional()
  @IsIn(TAG_FILTER_MODES)
  mode?: (typeof TAG_FILTER_MODES)[number] = 'contains_any';

  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  values: string[];
}

// A JSON text that does not parse stays a string and fails `@IsArray`.
const JsonTagFilters = () =>
  Transform(({ value }) => {
    if (typeof value !== 'string') return value;
    try {
      const parsed: unknown = JSON.parse(value);
      return Array.isArray(parsed)
        ? parsed.map((group) => (typeof group === 'object' && group !== null ? plainToInstance(TagFilterDto, group) : group))
        : parsed;
    } catch {
      return value;
    }
  });

export class ListFlowsQueryDto extends FlowExpansionQueryDto {
  /** Search flows by display name (case-insensitive). */
  @IsOptional()
  @IsString()
  search?: string;

  @ApiPropertyOptional({ enum: ['created_at', 'updated_at', 'display_name'], default: 'created_at' })
  @IsOptional()
  @IsIn(['created_at', 'updated_at', 'display_name'])
  sort_field?: 'created_at' | 'updated_at' | 'display_name' = 'created_at';

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

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(100)
  page_size?: number = 20;

  /**
   * Flows to skip, in place of `page` (a deviation: upstream pages by number only). A page ended
   * early by its byte budget carries `Link: <...>; rel="next"` naming the offset it stopped at.
   */
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 1_000_000 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  offset?: number;

  @ApiPropertyOptional({
    type: String,
    description:
      'JSON-encoded list of tag filter groups `{"mode": "contains_any" | "not_contains_any", "values": [...]}`; all groups must hold. At most 10 groups of 100 values.',
  })
  @IsOptional()
  @JsonTagFilters()
  @IsArray({ message: 'tag_filters must be a JSON-encoded list of {mode, values} groups' })
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  tag_filters?: TagFilterDto[];

  /** Only flows eligible for cleanup (no tasks, older than 30 days). */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  is_cleanable?: boolean = false;

  /** Accepted for compatibility and ignored: this service does not record who created a flow. */
  @IsOptional()
  @IsString()
  created_by_id?: string;

  /** Restricts the results to one organization; only the caller's own ever matches. */
  @IsOptional()
  @IsUUID()
  organization_id?: string;

  /** Include `latest_version_executions_count`: runs on the most recent version that has any. */
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  include_latest_version_executions_count?: boolean = false;
}
