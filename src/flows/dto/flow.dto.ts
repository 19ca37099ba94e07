import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
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

import { MAX_TIMEOUT_SECONDS } from '../flow-timeouts';

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

const seconds = (description: string) =>
  ApiProperty({ type: 'integer', nullable: true, required: false, minimum: 1, maximum: MAX_TIMEOUT_SECONDS, description });

/** Our extension of FlowSettings: when a run or a task is given up on (docs/api.md#timeouts). */
@ApiSchema({ name: 'TimeoutSettingsRequest' })
export class TimeoutSettingsDto {
  @seconds('A run still active this long after it started running fails (or is cancelled when it was asked to cancel).')
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TIMEOUT_SECONDS)
  execution_seconds?: number | null;

  @seconds('A running task with no heartbeat or report for this long fails with error code heartbeat_timeout, and its run fails.')
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TIMEOUT_SECONDS)
  task_heartbeat_seconds?: number | null;

  @seconds('A task running this long in total fails with error code task_timeout, and its run fails.')
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TIMEOUT_SECONDS)
  task_seconds?: number | null;

  @seconds('A cancel_requested run that no worker acknowledged within this long is cancelled.')
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TIMEOUT_SECONDS)
  cancel_seconds?: number | null;

  @seconds('A run awaiting input this long fails.')
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TIMEOUT_SECONDS)
  awaiting_input_seconds?: number | null;

  @ApiPropertyOptional({
    type: 'object',
    nullable: true,
    description: 'Per task name of the flow: heartbeat_seconds and seconds, over task_heartbeat_seconds and task_seconds.',
    additionalProperties: {
      type: 'object',
      properties: {
        heartbeat_seconds: { type: 'integer', nullable: true, minimum: 1, maximum: MAX_TIMEOUT_SECONDS },
        seconds: { type: 'integer', nullable: true, minimum: 1, maximum: MAX_TIMEOUT_SECONDS },
      },
    },
  })
  @IsOptional()
  @IsObject()
  tasks?: Record<string, { heartbeat_seconds?: number | null; seconds?: number | null }> | null;
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

  /** Our extension: timeouts of the flow's runs and tasks, all optional (docs/api.md#timeouts). */
  @IsOptional()
  @ValidateNested()
  @Type(() => TimeoutSettingsDto)
  timeouts?: TimeoutSettingsDto | null;
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
