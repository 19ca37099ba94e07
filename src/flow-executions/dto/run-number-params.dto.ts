import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { QueryInt } from '../../common/validation/query-transforms';

export class RunNumberParamsDto {
  /** The execution's 1-based position among all executions of the flow by creation. */
  @ApiProperty({ type: 'integer', minimum: 1, maximum: 2147483647 })
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(2147483647)
  run_number: number;
}
