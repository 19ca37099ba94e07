import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsDefined, IsIn, IsInt, IsObject, IsOptional, IsUUID, Matches, Max, Min, ValidateNested } from 'class-validator';
import { QueryInt } from '../../common/validation/query-transforms';
import { FlowExecutionResponseDto } from '../../flow-executions/dto/flow-execution.dto';
import { ExecutionSelectionDto } from '../../flow-executions/dto/selection.dto';

export const BULK_ACTIONS = ['cancel', 'delete', 're_execute', 'redrive'] as const;
export type BulkActionKind = (typeof BULK_ACTIONS)[number];
export const BULK_ACTION_STATUSES = ['queued', 'running', 'completed', 'cancelled', 'failed'] as const;
export type BulkActionStatus = (typeof BULK_ACTION_STATUSES)[number];
export const ITEM_OUTCOMES = ['pending', 'succeeded', 'failed'] as const;
export type ItemOutcome = (typeof ITEM_OUTCOMES)[number];

@ApiSchema({ name: 'BulkActionCreateRequest' })
export class CreateBulkActionDto {
  /** What to do to each selected run, as its single-run endpoint does. */
  @ApiProperty({ enum: BULK_ACTIONS })
  @IsIn(BULK_ACTIONS)
  action: BulkActionKind;

  /** The runs to act on (docs/api.md#selections); frozen when the action is created. */
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => ExecutionSelectionDto)
  selection: ExecutionSelectionDto;

  /** Answer how many runs match and a sample, and change nothing. */
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean = false;
}

/** A bulk action as stored. */
export interface BulkActionRow {
  id: string;
  organization_id: string;
  flow_id: string;
  action: BulkActionKind;
  status: BulkActionStatus;
  selection: Record<string, unknown>;
  matched: number;
  processed: number;
  succeeded: number;
  failed: number;
  created_by: string;
  created_by_role: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

@ApiSchema({ name: 'BulkActionResponse' })
export class BulkActionResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;
  @ApiProperty({ enum: BULK_ACTIONS })
  action: BulkActionKind;
  @ApiProperty({ enum: BULK_ACTION_STATUSES })
  status: BulkActionStatus;
  /** The selection as given (members set only). */
  selection: Record<string, unknown>;
  /** Runs in the frozen matched set. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  matched: number;
  /** Runs acted on so far: `succeeded + failed`. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  processed: number;
  @ApiProperty({ type: 'integer', minimum: 0 })
  succeeded: number;
  /** Runs the action was refused on (see the items). */
  @ApiProperty({ type: 'integer', minimum: 0 })
  failed: number;
  /** Who created it. */
  created_by: string;
  created_at: string;
  updated_at: string;
  @ApiProperty({ type: String, nullable: true })
  finished_at: string | null;
}

@ApiSchema({ name: 'BulkActionDryRunResponse' })
export class BulkActionDryRunResponseDto {
  @ApiProperty({ enum: BULK_ACTIONS })
  action: BulkActionKind;
  @ApiProperty({ enum: [true] })
  dry_run: true;
  selection: Record<string, unknown>;
  /** Runs the action would act on now. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  matched: number;
  /** The first matched runs (at most 10), oldest first. */
  @ApiProperty({ type: [FlowExecutionResponseDto] })
  sample: FlowExecutionResponseDto[];
}

export class ListBulkActionsQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 50 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number = 50;

  /** The cursor: a page's `next_cursor`, to read older actions. */
  @IsOptional()
  @IsUUID()
  after?: string;
}

@ApiSchema({ name: 'BulkActionsPage' })
export class BulkActionsPageDto {
  /** Newest first. */
  bulk_actions: BulkActionResponseDto[];
  /** Pass as `after` for older actions; null on the last page. */
  @ApiProperty({ type: String, nullable: true })
  next_cursor: string | null;
}

export class ListBulkActionItemsQueryDto {
  /** Only runs with this outcome. */
  @ApiPropertyOptional({ enum: ITEM_OUTCOMES })
  @IsOptional()
  @IsIn(ITEM_OUTCOMES)
  outcome?: ItemOutcome;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number = 100;

  /** The cursor: a page's `next_cursor`. */
  @IsOptional()
  @Matches(/^\d{1,9}$/, { message: 'after must be a page’s next_cursor' })
  after?: string;
}

@ApiSchema({ name: 'BulkActionItemError' })
export class BulkActionItemErrorDto {
  /** The error code the single-run endpoint would have answered (`conflict`, …). */
  code: string;
  message: string;
}

@ApiSchema({ name: 'BulkActionItem' })
export class BulkActionItemDto {
  @ApiProperty({ format: 'uuid' })
  flow_execution_id: string;
  @ApiProperty({ enum: ITEM_OUTCOMES })
  outcome: ItemOutcome;
  /** Why the run was not acted on; null unless `failed`. */
  @ApiProperty({ type: BulkActionItemErrorDto, nullable: true })
  error: BulkActionItemErrorDto | null;
  @ApiProperty({ type: String, nullable: true })
  processed_at: string | null;
}

@ApiSchema({ name: 'BulkActionItemsPage' })
export class BulkActionItemsPageDto {
  /** In the order the runs are acted on (oldest run first). */
  items: BulkActionItemDto[];
  @ApiProperty({ type: String, nullable: true })
  next_cursor: string | null;
}

export function toBulkActionResponse(row: BulkActionRow): BulkActionResponseDto {
  return {
    id: row.id,
    action: row.action,
    status: row.status,
    selection: row.selection,
    matched: row.matched,
    processed: row.processed,
    succeeded: row.succeeded,
    failed: row.failed,
    created_by: row.created_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
    finished_at: row.finished_at,
  };
}
