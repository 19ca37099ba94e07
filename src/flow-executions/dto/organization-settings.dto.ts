import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';

@ApiSchema({ name: 'OrganizationSettingsUpdateRequest' })
export class UpdateOrganizationSettingsDto {
  /** How many executions of the organization may run at once; the rest wait, oldest first. */
  @ApiProperty({ type: 'integer', minimum: 1, maximum: 100000 })
  @IsInt()
  @Min(1)
  @Max(100000)
  max_concurrent_executions: number;
}

@ApiSchema({ name: 'OrganizationSettingsResponse' })
export class OrganizationSettingsResponseDto {
  @ApiProperty({ format: 'uuid' })
  organization_id: string;
  /** The limit in force: the organization's own, or the service default. */
  @ApiProperty({ type: 'integer' })
  max_concurrent_executions: number;
  /** Executions holding a slot now (running, awaiting_input, cancel_requested). */
  @ApiProperty({ type: 'integer' })
  running_executions: number;
  /** Executions waiting for a slot. */
  @ApiProperty({ type: 'integer' })
  queued_executions: number;
}
