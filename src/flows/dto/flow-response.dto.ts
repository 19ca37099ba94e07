import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { RawJson, RawJsonBytes } from '../../common/http/raw-json';
import type { DslIssue } from '../flow-definition';
import type { FlowVersionEntity } from '../flow-version.entity';
import type { FlowEntity } from '../flow.entity';
import { FlowTimeouts, normalizeTimeouts } from '../flow-timeouts';
import type { DefinitionText } from '../flows.repository';

@ApiSchema({ name: 'TTLSettings' })
export class TtlSettingsResponseDto {
  @ApiProperty({ type: 'integer', nullable: true })
  seconds: number | null;
}

@ApiSchema({ name: 'TimeoutSettings' })
export class TimeoutSettingsResponseDto {
  @ApiProperty({ type: 'integer', nullable: true })
  execution_seconds: number | null;
  @ApiProperty({ type: 'integer', nullable: true })
  task_heartbeat_seconds: number | null;
  @ApiProperty({ type: 'integer', nullable: true })
  task_seconds: number | null;
  @ApiProperty({ type: 'integer', nullable: true })
  cancel_seconds: number | null;
  @ApiProperty({ type: 'integer', nullable: true })
  awaiting_input_seconds: number | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: {
      type: 'object',
      properties: { heartbeat_seconds: { type: 'integer', nullable: true }, seconds: { type: 'integer', nullable: true } },
    },
  })
  tasks: FlowTimeouts['tasks'];
}

@ApiSchema({ name: 'FlowSettings' })
export class FlowSettingsResponseDto {
  /** Executions are soft-deleted once completed, failed or cancelled for `ttl.seconds`. */
  ttl: TtlSettingsResponseDto;
  /** Stored, with no effect: executions keep the version they started on (see the request field). */
  reexecute_on_update: boolean;
  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  review_view_id: string | null;
  /** Our extension: the flow's timeouts, null where unset (docs/api.md#timeouts). */
  timeouts: TimeoutSettingsResponseDto;
}

/** One DSL problem, in the spec's ErrorDetails shape. */
@ApiSchema({ name: 'FlowValidationError' })
export class FlowValidationErrorDto {
  type: string;
  @ApiProperty({ type: 'array', items: { oneOf: [{ type: 'string' }, { type: 'integer' }] } })
  loc: (string | number)[];
  msg: string;
  @ApiProperty({ nullable: true })
  input: unknown;
}

@ApiSchema({ name: 'FlowResponse' })
export class FlowResponseDto {
  id: string;
  created_at: string;
  updated_at: string;
  modified_by: string;
  display_name: string;
  @ApiProperty({ type: String, nullable: true })
  description: string | null;
  @ApiProperty({ type: 'integer', minimum: 1, description: 'Flow version number. Increments on each definition update.' })
  version: number;
  @ApiProperty({ enum: ['draft', 'published'] })
  status: string;
  /** Whether this is the latest version of the flow. */
  is_latest: boolean;
  organization_id: string;
  @ApiProperty({ type: 'object', additionalProperties: true })
  definition: Record<string, unknown>;
  @ApiProperty({ type: FlowSettingsResponseDto, nullable: true })
  settings: FlowSettingsResponseDto | null;
  @ApiProperty({ type: 'integer', description: 'Total number of executions of this flow across all versions.' })
  flow_executions_count: number;
  @ApiProperty({ type: 'integer', nullable: true, description: 'Only with include_latest_version_executions_count=true.' })
  latest_version_executions_count: number | null;
  @ApiProperty({ type: [String], nullable: true, description: 'Only with include_ordered_task_names=true.' })
  task_names: string[] | null;
  @ApiProperty({ type: [FlowValidationErrorDto], nullable: true, description: 'Only with include_validation_errors=true; empty for a valid flow.' })
  validation_errors: FlowValidationErrorDto[] | null;
  @ApiProperty({ type: [String], uniqueItems: true })
  tags: string[];
  deleted: boolean;
}

@ApiSchema({ name: 'PaginatedFlowResponse' })
export class PaginatedFlowResponseDto {
  flows: FlowResponseDto[];
  @ApiProperty({ type: 'integer' })
  total: number;
  @ApiProperty({ type: 'integer' })
  page: number;
  @ApiProperty({ type: 'integer' })
  page_size: number;
}

export interface FlowResponseExtras {
  taskNames?: string[] | null;
  validationErrors?: DslIssue[] | null;
  latestVersionExecutionsCount?: number | null;
}

/** Stored settings with every default filled in, so the response always has the full FlowSettings shape. */
export function normalizeSettings(value: unknown): FlowSettingsResponseDto | null {
  if (typeof value !== 'object' || value === null) return null;
  const settings = value as { ttl?: { seconds?: unknown } | null; reexecute_on_update?: unknown; review_view_id?: unknown; timeouts?: unknown };
  const seconds = settings.ttl?.seconds;
  return {
    ttl: { seconds: typeof seconds === 'number' ? seconds : null },
    reexecute_on_update: settings.reexecute_on_update === true,
    review_view_id: typeof settings.review_view_id === 'string' ? settings.review_view_id : null,
    timeouts: normalizeTimeouts(settings.timeouts),
  };
}

/**
 * The flow at `version`, with the flow's own timestamps and author (the flow endpoints);
 * `definitionText`, the definition as PostgreSQL's text or bytes, is spliced in as is.
 */
export function toFlowResponse(
  flow: FlowEntity,
  version: FlowVersionEntity,
  extras: FlowResponseExtras = {},
  definitionText?: DefinitionText,
): FlowResponseDto {
  return {
    id: flow.id,
    created_at: flow.createdAt.toISOString(),
    updated_at: flow.updatedAt.toISOString(),
    modified_by: flow.modifiedBy,
    display_name: flow.displayName,
    description: flow.description,
    version: version.version,
    status: flow.status,
    is_latest: version.version === flow.latestVersion,
    organization_id: flow.organizationId,
    // JSON text is spliced into the response as is; RawJson serializes like the object it holds.
    definition: definitionText === undefined ? version.definition : (rawDefinition(definitionText) as unknown as Record<string, unknown>),
    settings: normalizeSettings(flow.settings),
    flow_executions_count: flow.executionsCount,
    latest_version_executions_count: extras.latestVersionExecutionsCount ?? null,
    task_names: extras.taskNames ?? null,
    validation_errors: extras.validationErrors?.map(toValidationError) ?? null,
    tags: flow.tags,
    deleted: flow.deleted,
  };
}

/** The versions endpoints: timestamps and author are the version's, so the history shows who saved what when. */
export function toFlowVersionResponse(
  flow: FlowEntity,
  version: FlowVersionEntity,
  extras: FlowResponseExtras = {},
  definitionText?: DefinitionText,
): FlowResponseDto {
  return {
    ...toFlowResponse(flow, version, extras, definitionText),
    created_at: version.createdAt.toISOString(),
    updated_at: version.updatedAt.toISOString(),
    modified_by: version.modifiedBy,
  };
}

function toValidationError(issue: DslIssue): FlowValidationErrorDto {
  return { type: 'invalid_dsl', loc: issue.loc, msg: issue.msg, input: null };
}

function rawDefinition(text: DefinitionText): RawJson | RawJsonBytes {
  return typeof text === 'string' ? new RawJson(text) : new RawJsonBytes(text);
}
