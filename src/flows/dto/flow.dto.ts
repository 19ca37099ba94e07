import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

export const FLOW_STATUSES = ['draft', 'published'] as const;
export const VISIBILITIES = ['private', 'organization', 'public'] as const;

const DEFINITION_DOC = {
  type: 'object',
  additionalProperties: true,
  description:
    "Flow definition in DSL format: a 'flow' metadata object and a 'flow_configs' array whose `config.tasks` hold the tasks " +
    "(unique 'name', 'task_executor_name', optional 'task_title', 'parameters'). Tasks reference upstream outputs with " +
    "'{{task_name.output_field}}' anywhere in their parameters.",
} as const;

/** Tags a flow may carry (422 beyond). */
export const MAX_FLOW_TAGS = 100;

@ApiSchema({ name: 'TTLSettingsRequest' })
export class TtlSettingsDto {
  @ApiProperty({
    type: 'integer',
    nullable: true,
    required: false,
    minimum: 60,
    maximum: 5097600,
    description: 'TTL in seconds after completion (1 minute to 30 days).',
  })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(5097600)
  seconds?: number | null;
}

@ApiSchema({ name: 'FlowSettingsRequest' })
export class FlowSettingsDto {
  /** Time-to-live: an execution is soft-deleted once it has been completed, failed or cancelled for `ttl.seconds`. */
  @IsOptional()
  @ValidateNested()
  @Type(() => TtlSettingsDto)
  ttl?: TtlSettingsDto;

  /**
   * Stored and returned, with no effect: a definition changes only while the flow is a draft and
   * every execution keeps the version it started on, so nothing existing becomes stale on a flow
   * update; stale tasks come from task edits and re-run through `PUT /api/task-executions?execute_flow=true`
   * or `POST .../execute?only_stale=true`.
   */
  @IsOptional()
  @IsBoolean()
  reexecute_on_update?: boolean;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, required: false, description: 'Reference to the FlowView used for review navigation.' })
  @IsOptional()
  @IsUUID()
  review_view_id?: string | null;
}

@ApiSchema({ name: 'FlowCreateRequest' })
export class CreateFlowDto {
  /** Human-readable name for the flow. Displayed in UI and logs. */
  @IsDefined()
  @IsString()
  @Length(1, 255)
  display_name: string;

  @ApiProperty({
    type: String,
    nullable: true,
    required: false,
    maxLength: 5000,
    description: "Optional detailed description of the flow's purpose and behavior.",
  })
  @IsOptional()
  @IsString()
  @MaxLength(5000)
  description?: string | null;

  @ApiProperty(DEFINITION_DOC)
  @IsDefined()
  @IsObject()
  definition: Record<string, unknown>;

  @ApiProperty({ enum: VISIBILITIES, nullable: true, required: false, description: 'Access control level.' })
  @IsOptional()
  @IsIn(VISIBILITIES)
  visibility?: string | null;

  @ApiProperty({ type: FlowSettingsDto, nullable: true, required: false })
  @IsOptional()
  @ValidateNested()
  @Type(() => FlowSettingsDto)
  settings?: FlowSettingsDto | null;

  @ApiProperty({ type: [String], uniqueItems: true, required: false })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_FLOW_TAGS)
  @ArrayUnique()
  @IsString({ each: true })
  tags?: string[];
}

/** `null` leaves `display_name`, `status` and `tags` as they are (required columns); it clears the others. */
@ApiSchema({ name: 'PatchFlowRequest' })
export class PatchFlowDto {
  @ApiProperty({ type: String, nullable: true, required: false, minLength: 1, maxLength: 255, description: 'New display name for the flow.' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  display_name?: string | null;

  @ApiProperty({ type: String, nullable: true, required: false, maxLength: 5000, description: 'New description.' })
  @IsOptional()
  @IsString()
  @MaxLength(5000)
  description?: string | null;

  @ApiProperty({ enum: VISIBILITIES, nullable: true, required: false, description: 'New visibility setting.' })
  @IsOptional()
  @IsIn(VISIBILITIES)
  visibility?: string | null;

  @ApiProperty({ type: FlowSettingsDto, nullable: true, required: false, description: 'New settings (replaces existing).' })
  @IsOptional()
  @ValidateNested()
  @Type(() => FlowSettingsDto)
  settings?: FlowSettingsDto | null;

  // Any string parses, as in the spec; the service answers 400 for one that is not a status.
  @ApiProperty({ type: String, nullable: true, required: false, description: "New status: 'draft' or 'published'. All transitions are allowed." })
  @IsOptional()
  @IsString()
  status?: string | null;

  @ApiProperty({ type: [String], uniqueItems: true, nullable: true, required: false })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_FLOW_TAGS)
  @ArrayUnique()
  @IsString({ each: true })
  tags?: string[] | null;
}

@ApiSchema({ name: 'FlowDefinitionUpdate' })
export class UpdateFlowDefinitionDto {
  @ApiProperty(DEFINITION_DOC)
  @IsDefined()
  @IsObject()
  definition: Record<string, unknown>;
}
