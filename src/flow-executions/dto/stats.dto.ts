import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { ExecutionSelectionDto } from './selection.dto';

export const STATS_GROUPS = ['status', 'flow_version', 'day'] as const;
export type StatsGroup = (typeof STATS_GROUPS)[number];

/** The selection (docs/api.md#selections) and how to group it. */
export class FlowExecutionStatsQueryDto extends ExecutionSelectionDto {
  /** Count by status, by pinned flow version, or by UTC day of creation. */
  @ApiPropertyOptional({ enum: STATS_GROUPS, default: 'status' })
  @IsOptional()
  @IsIn(STATS_GROUPS)
  group_by?: StatsGroup = 'status';
}

/** Durations of finished runs (completed, failed, cancelled), from creation to the end, in seconds. */
@ApiSchema({ name: 'FlowExecutionDurations' })
export class DurationsDto {
  @ApiProperty({ type: 'number' })
  p50: number;
  @ApiProperty({ type: 'number' })
  p95: number;
  @ApiProperty({ type: 'number' })
  max: number;
}

@ApiSchema({ name: 'FlowExecutionStatsGroup' })
export class StatsGroupDto {
  /** The status, the flow version (an integer) or the day (`YYYY-MM-DD`, UTC) of the group. */
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'integer' }] })
  key: string | number;
  /** Runs in the group (exact). */
  @ApiProperty({ type: 'integer', minimum: 0 })
  count: number;
  /** Of them, runs that finished: completed, failed or cancelled. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  finished: number;
  /** Null when none finished. */
  @ApiProperty({ type: DurationsDto, nullable: true })
  duration_seconds: DurationsDto | null;
}

@ApiSchema({ name: 'FlowExecutionStatsResponse' })
export class FlowExecutionStatsResponseDto {
  @ApiProperty({ format: 'uuid' })
  flow_id: string;
  @ApiProperty({ enum: STATS_GROUPS })
  group_by: StatsGroup;
  /** Runs selected (exact). */
  @ApiProperty({ type: 'integer', minimum: 0 })
  count: number;
  @ApiProperty({ type: 'integer', minimum: 0 })
  finished: number;
  /** Over every finished run selected; null when none finished. */
  @ApiProperty({ type: DurationsDto, nullable: true })
  duration_seconds: DurationsDto | null;
  /** One a key with runs, in key order. */
  @ApiProperty({ type: [StatsGroupDto] })
  groups: StatsGroupDto[];
}
