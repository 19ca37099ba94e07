import { Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { EntityManager, IsNull, Repository } from 'typeorm';
import { API_KEY_PREFIX, hashApiKey } from '../common/auth/api-key.verifier';
import { CredentialChanges } from '../common/auth/credential-changes';
import type { Role } from '../common/auth/permissions';
import type { Principal } from '../common/auth/principal';
import { forbidden, notFound } from '../common/errors/app-error';
import { RawJsonBytes } from '../common/http/raw-json';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyCreateResponseDto, ApiKeyResponseDto, CreateApiKeyDto, toApiKeyCreateResponse, toApiKeyResponse, UpdateApiKeyDto } from './dto/api-key.dto';
import { OffsetPage, OffsetPageQueryDto } from './dto/page-query.dto';
import { CreateServiceAccountDto, ServiceAccountResponseDto, toServiceAccountResponse, UpdateServiceAccountDto } from './dto/service-account.dto';
import { ServiceAccountEntity } from './service-account.entity';
import { ServiceAccountsRepository, WrittenPage } from './service-accounts.repository';

/** The service needs only who acts and for which organization; the CLI and the demo setup act without a request. */
export type Caller = Pick<Principal, 'subject' | 'organizationId'>;

const TOKEN_PREFIX_LENGTH = 12;
const DEFAULT_ROLE: Role = 'integration';

@Injectable()
export class ServiceAccountsService {
  constructor(
    @InjectRepository(ServiceAccountEntity) private readonly accounts: Repository<ServiceAccountEntity>,
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
    private readonly repository: ServiceAccountsRepository,
    // Absent in the CLI, a process of its own that caches no key.
    @Optional() private readonly credentials?: CredentialChanges,
  ) {}

  async create(principal: Caller, dto: CreateServiceAccountDto): Promise<ServiceAccountResponseDto> {
    return toServiceAccountResponse(await this.insertAccount(this.accounts.manager, principal, dto));
  }

  async list(principal: Caller, page: OffsetPageQueryDto): Promise<OffsetPage<ServiceAccountResponseDto>> {
    return writtenPage(await this.repository.accounts(principal.organizationId, page), page);
  }

  async get(principal: Caller, id: string): Promise<ServiceAccountResponseDto> {
    return toServiceAccountResponse(await this.findAccessible(principal, id));
  }

  async update(principal: Caller, id: string, dto: UpdateServiceAccountDto): Promise<ServiceAccountResponseDto> {
    await this.findAccessible(principal, id);
    const changes: Partial<ServiceAccountEntity> = { modifiedBy: principal.subject };
    if (dto.name != null) changes.name = dto.name;
    if (dto.role != null) changes.role = dto.role;
    if (dto.description !== undefined) changes.description = dto.description;
    // An UPDATE on live rows only, rather than save(), which could undo a concurrent delete.
    await this.accounts.update({ id, organizationId: principal.organizationId, deletedAt: IsNull() }, changes);
    this.credentials?.changed();
    return this.get(principal, id);
  }

  /** Soft-deletes the account and its keys together, so none of them authenticates any more. */
  async remove(principal: Caller, id: string): Promise<void> {
    const account = await this.findAccessible(principal, id);
    await this.accounts.manager.transaction(async (manager) => {
      const deleted = { deletedAt: () => 'now()', modifiedBy: principal.subject };
      await manager.update(ApiKeyEntity, { serviceAccountId: account.id, organizationId: principal.organizationId, deletedAt: IsNull() }, deleted);
      await manager.update(ServiceAccountEntity, { id: account.id, organizationId: principal.organizationId, deletedAt: IsNull() }, deleted);
    });
    this.credentials?.changed();
  }

  async listKeys(principal: Caller, accountId: string, page: OffsetPageQueryDto): Promise<OffsetPage<ApiKeyResponseDto>> {
    await this.findAccessible(principal, accountId);
    return writtenPage(await this.repository.keys(principal.organizationId, accountId, page), page);
  }

  async createKey(principal: Caller, accountId: string, dto: CreateApiKeyDto): Promise<ApiKeyCreateResponseDto> {
    const account = await this.findAccessible(principal, accountId);
    return this.insertKey(this.keys.manager, principal, account, dto);
  }

  async updateKey(principal: Caller, accountId: string, keyId: string, dto: UpdateApiKeyDto): Promise<ApiKeyResponseDto> {
    await this.findKey(principal, accountId, keyId);
    const changes: Partial<ApiKeyEntity> = { modifiedBy: principal.subject };
    if (dto.name != null) changes.name = dto.name;
    if (dto.description !== undefined) changes.description = dto.description;
    await this.keys.update({ id: keyId, organizationId: principal.organizationId, deletedAt: IsNull() }, changes);
    const updated = await this.keys.findOneBy({ id: keyId, organizationId: principal.organizationId });
    if (!updated) throw notFound('API key');
    return toApiKeyResponse(updated);
  }

  async removeKey(principal: Caller, accountId: string, keyId: string): Promise<void> {
    const key = await this.findKey(principal, accountId, keyId);
    await this.keys.update(
      { id: key.id, organizationId: principal.organizationId, deletedAt: IsNull() },
      { deletedAt: () => 'now()', modifiedBy: principal.subject },
    );
    this.credentials?.changed();
  }

  /** An account and its first key in one transaction: the local CLI and the demo organization. */
  async createWithKey(principal: Caller, dto: CreateServiceAccountDto): Promise<{ account: ServiceAccountResponseDto; key: ApiKeyCreateResponseDto }> {
    return this.accounts.manager.transaction(async (manager) => {
      const account = await this.insertAccount(manager, principal, dto);
      const key = await this.insertKey(manager, principal, account, { name: dto.name, description: dto.description });
      return { account: toServiceAccountResponse(account), key };
    });
  }

  /** Deleted accounts count too: the name then marks that something was set up once. */
  hasAccountNamed(principal: Caller, name: string): Promise<boolean> {
    return this.accounts.exists({ where: { organizationId: principal.organizationId, name }, withDeleted: true });
  }

  private insertAccount(manager: EntityManager, principal: Caller, dto: CreateServiceAccountDto): Promise<ServiceAccountEntity> {
    return manager.save(
      manager.create(ServiceAccountEntity, {
        organizationId: principal.organizationId,
        name: dto.name,
        description: dto.description ?? null,
        role: dto.role ?? DEFAULT_ROLE,
        status: 'active',
        modifiedBy: principal.subject,
      }),
    );
  }

  private async insertKey(manager: EntityManager, principal: Caller, account: ServiceAccountEntity, dto: CreateApiKeyDto): Promise<ApiKeyCreateResponseDto> {
    const token = API_KEY_PREFIX + randomBytes(32).toString('base64url');
    const key = await manager.save(
      manager.create(ApiKeyEntity, {
        organizationId: account.organizationId,
        serviceAccountId: account.id,
        name: dto.name,
        description: dto.description ?? null,
        tokenPrefix: token.slice(0, TOKEN_PREFIX_LENGTH),
        tokenHash: hashApiKey(token),
        modifiedBy: principal.subject,
      }),
    );
    return toApiKeyCreateResponse(key, token);
  }

  /** The one place that decides 404 (unknown or deleted) versus 403 (another organization's). */
  private async findAccessible(principal: Caller, id: string): Promise<ServiceAccountEntity> {
    const account = await this.accounts.findOne({ where: { id } });
    if (!account) throw notFound('Service account');
    if (account.organizationId !== principal.organizationId) throw forbidden();
    return account;
  }

  private async findKey(principal: Caller, accountId: string, keyId: string): Promise<ApiKeyEntity> {
    await this.findAccessible(principal, accountId);
    const key = await this.keys.findOne({
      where: { id: keyId, serviceAccountId: accountId, organizationId: principal.organizationId },
    });
    if (!key) throw notFound('API key');
    return key;
  }
}

/**
 * A page as PostgreSQL wrote it, spliced into the answer unparsed (docs/api.md#event-loop-budget);
 * fewer items than the rows fetched means the byte budget ended it.
 */
function writtenPage<T>(written: WrittenPage, page: OffsetPageQueryDto): OffsetPage<T> {
  const truncated = written.count > 0 && written.count < written.fetched;
  return { items: new RawJsonBytes(written.json) as unknown as T[], nextOffset: truncated ? page.offset + written.count : null };
}
