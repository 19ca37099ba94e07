import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { IsDefined, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { Role, ROLES } from '../../common/auth/permissions';
import type { ServiceAccountEntity } from '../service-account.entity';
import { DESCRIPTION_MAX_LENGTH } from './page-query.dto';

@ApiSchema({ name: 'ServiceAccountCreateRequest' })
export class CreateServiceAccountDto {
  /** Human-readable name for this service account. */
  @IsDefined()
  @IsString()
  @MaxLength(255)
  name: string;

  @ApiProperty({
    type: String,
    nullable: true,
    required: false,
    maxLength: DESCRIPTION_MAX_LENGTH,
    description: 'Optional description explaining the purpose and usage of this account.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(DESCRIPTION_MAX_LENGTH)
  description?: string | null;

  @ApiProperty({ enum: ROLES, enumName: 'UserRole', required: false, default: 'integration', description: 'Role its API keys act with (extension).' })
  @IsOptional()
  @IsIn(ROLES)
  // A null role is taken as absent (OpenAPI 3.0 cannot mark a $ref nullable).
  role?: Role;
}

/** `null` for `name` or `role` leaves it as it is (both are required columns); `null` clears `description`. */
@ApiSchema({ name: 'ServiceAccountUpdateRequest' })
export class UpdateServiceAccountDto {
  @ApiProperty({ type: String, nullable: true, required: false, maxLength: 255, description: 'Updated name for this service account.' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  name?: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    required: false,
    maxLength: DESCRIPTION_MAX_LENGTH,
    description: 'Updated description for this service account.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(DESCRIPTION_MAX_LENGTH)
  description?: string | null;

  @ApiProperty({ enum: ROLES, enumName: 'UserRole', required: false, description: 'New role of the account (extension).' })
  @IsOptional()
  @IsIn(ROLES)
  // A null role is taken as absent (OpenAPI 3.0 cannot mark a $ref nullable).
  role?: Role;
}

/** ServiceAccountResponse and ServiceAccountCreateResponse of the spec, plus `role`. */
@ApiSchema({ name: 'ServiceAccountResponse' })
export class ServiceAccountResponseDto {
  id: string;
  created_at: string;
  updated_at: string;
  modified_by: string;
  /** UUID of the organization this account belongs to. */
  organization_id: string;
  name: string;
  @ApiProperty({ type: String, nullable: true })
  description: string | null;
  /** Current status of the service account; only active accounts can authenticate. */
  status: string;
  @ApiProperty({ enum: ROLES, enumName: 'UserRole' })
  role: Role;
}

/** The create answer, named apart in the spec; the same fields. */
@ApiSchema({ name: 'ServiceAccountCreateResponse' })
export class ServiceAccountCreateResponseDto extends ServiceAccountResponseDto {}

export function toServiceAccountResponse(account: ServiceAccountEntity): ServiceAccountResponseDto {
  return {
    id: account.id,
    created_at: account.createdAt.toISOString(),
    updated_at: account.updatedAt.toISOString(),
    modified_by: account.modifiedBy,
    organization_id: account.organizationId,
    name: account.name,
    description: account.description,
    status: account.status,
    role: account.role,
  };
}
