import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { IsDefined, IsOptional, IsString, MaxLength } from 'class-validator';
import type { ApiKeyEntity } from '../api-key.entity';
import { DESCRIPTION_MAX_LENGTH } from './page-query.dto';

@ApiSchema({ name: 'ApiKeyCreateRequest' })
export class CreateApiKeyDto {
  /** Human-readable name for this API key. */
  @IsDefined()
  @IsString()
  @MaxLength(255)
  name: string;

  @ApiProperty({
    type: String,
    nullable: true,
    required: false,
    maxLength: DESCRIPTION_MAX_LENGTH,
    description: 'Optional description explaining the purpose and usage of this API key.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(DESCRIPTION_MAX_LENGTH)
  description?: string | null;
}

/** `null` for `name` leaves it as it is (a required column); `null` clears `description`. */
@ApiSchema({ name: 'ApiKeyUpdateRequest' })
export class UpdateApiKeyDto {
  @ApiProperty({ type: String, nullable: true, required: false, maxLength: 255, description: 'Updated name for this API key.' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  name?: string | null;

  @ApiProperty({ type: String, nullable: true, required: false, maxLength: DESCRIPTION_MAX_LENGTH, description: 'Updated description for this API key.' })
  @IsOptional()
  @IsString()
  @MaxLength(DESCRIPTION_MAX_LENGTH)
  description?: string | null;
}

@ApiSchema({ name: 'ApiKeyResponse' })
export class ApiKeyResponseDto {
  id: string;
  created_at: string;
  updated_at: string;
  modified_by: string;
  /** Always null here: this service issues keys to service accounts only. */
  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  user_id: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  service_account_id: string | null;
  name: string;
  @ApiProperty({ type: String, nullable: true })
  description: string | null;
  /** The first 12 characters of the token, to recognise it by; the full token is shown only at creation. */
  token_prefix: string;
  organization_id: string;
}

@ApiSchema({ name: 'ApiKeyCreateResponse' })
export class ApiKeyCreateResponseDto extends ApiKeyResponseDto {
  /** The full token. This is the only time it is shown: it cannot be retrieved later. */
  token: string;
}

export function toApiKeyResponse(key: ApiKeyEntity): ApiKeyResponseDto {
  return {
    id: key.id,
    created_at: key.createdAt.toISOString(),
    updated_at: key.updatedAt.toISOString(),
    modified_by: key.modifiedBy,
    user_id: null,
    service_account_id: key.serviceAccountId,
    name: key.name,
    description: key.description,
    token_prefix: key.tokenPrefix,
    organization_id: key.organizationId,
  };
}

export function toApiKeyCreateResponse(key: ApiKeyEntity, token: string): ApiKeyCreateResponseDto {
  return { ...toApiKeyResponse(key), token };
}
