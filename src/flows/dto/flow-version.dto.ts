import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, MaxLength } from 'class-validator';
import { QueryInt } from '../../common/validation/query-transforms';
import type { FlowVersionMeta } from '../flows.repository';

/** The `{version}` path segment: anything but an integer is a 422 at `['path', 'version']`. */
export class FlowVersionParamsDto {
  @ApiProperty({ type: 'integer' })
  @QueryInt()
  @IsInt()
  version: number;
}

/** `null` clears `name` and leaves `is_favourite` as it is. */
@ApiSchema({ name: 'UpdateFlowVersionMetadata' })
export class UpdateFlowVersionMetadataDto {
  @ApiProperty({ type: String, nullable: true, required: false, maxLength: 255 })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  name?: string | null;

  @ApiProperty({ type: Boolean, nullable: true, required: false })
  @IsOptional()
  @IsBoolean()
  is_favourite?: boolean | null;
}

/** Lightweight version metadata for the version history sidebar. */
@ApiSchema({ name: 'FlowVersionSummary' })
export class FlowVersionSummaryDto {
  @ApiProperty({ type: 'integer' })
  version: number;
  created_at: string;
  updated_at: string;
  modified_by: string;
  is_latest: boolean;
  @ApiProperty({ type: String, nullable: true })
  name: string | null;
  is_favourite: boolean;
}

export function toFlowVersionSummary(version: FlowVersionMeta, latestVersion: number): FlowVersionSummaryDto {
  return {
    version: version.version,
    created_at: version.createdAt.toISOString(),
    updated_at: version.updatedAt.toISOString(),
    modified_by: version.modifiedBy,
    is_latest: version.version === latestVersion,
    name: version.name,
    is_favourite: version.isFavourite,
  };
}
