import { ApiAnyJson } from '../../common/http/api-any-json';
import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, IsUUID, Length, ValidateNested } from 'class-validator';
import { TAG_MAX_LENGTH, TAG_TYPE_MAX_LENGTH } from '../task-tags';

export const TAG_OPERATIONS = ['add', 'remove'] as const;
export type TagOperation = (typeof TAG_OPERATIONS)[number];
export const TAG_RESULTS = ['added', 'removed', 'already_exists', 'not_found'] as const;
export type TagResult = (typeof TAG_RESULTS)[number];

@ApiSchema({ name: 'PatchFlowTaskTagsRequestItem' })
export class PatchFlowTaskTagsRequestItemDto {
  /** `add` creates the tag (or revives a removed one); `remove` soft-deletes it. */
  @ApiProperty({ enum: TAG_OPERATIONS })
  @IsIn(TAG_OPERATIONS)
  operation: TagOperation;

  /** The flow execution of the task; it must belong to the caller's organization. */
  @IsUUID()
  flow_execution_id: string;

  /** A task of the execution's flow version (case-sensitive). */
  @IsString()
  @Length(1, 200)
  task_name: string;

  @IsString()
  @Length(1, TAG_MAX_LENGTH)
  tag: string;

  @IsString()
  @Length(1, TAG_TYPE_MAX_LENGTH)
  tag_type: string;

  /** Any JSON value, stored with an added tag; an existing active tag keeps its own. */
  @ApiAnyJson({ required: false })
  @IsOptional()
  tag_metadata?: unknown;
}

@ApiSchema({ name: 'PatchFlowTaskTagsRequest' })
export class PatchFlowTaskTagsRequestDto {
  /** 1 to 100 operations, applied in order in one transaction: all or none. */
  @ApiProperty({ type: [PatchFlowTaskTagsRequestItemDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => PatchFlowTaskTagsRequestItemDto)
  tags: PatchFlowTaskTagsRequestItemDto[];
}

@ApiSchema({ name: 'PatchFlowTaskTagsResponseItem' })
export class PatchFlowTaskTagsResponseItemDto {
  @ApiProperty({ enum: TAG_RESULTS })
  status: TagResult;
}

@ApiSchema({ name: 'PatchFlowTaskTagsResponse' })
export class PatchFlowTaskTagsResponseDto {
  /** One result per operation, in request order. */
  @ApiProperty({ type: [PatchFlowTaskTagsResponseItemDto] })
  tags: PatchFlowTaskTagsResponseItemDto[];
}

export class ListTaskTagsQueryDto {
  /** The flow execution whose active tags to list. */
  @IsUUID()
  flow_execution_id: string;

  /** Only the tags of this task (exact, case-sensitive). */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  task_name?: string;
}

export class FlowTagsQueryDto {
  /** Only tags of this task (exact, case-sensitive). */
  @IsOptional()
  @IsString()
  task_name?: string;
}
