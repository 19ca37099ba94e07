import { Column, CreateDateColumn, DeleteDateColumn, Entity, ForeignKey, Index, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';
import { ServiceAccountEntity } from './service-account.entity';

@Entity({ name: 'api_keys' })
@Unique('api_keys_token_hash_key', ['tokenHash'])
@Index('api_keys_service_account_idx', ['serviceAccountId', 'createdAt', 'id'], { where: 'deleted_at IS NULL' })
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId: string;

  @Column({ name: 'service_account_id', type: 'uuid' })
  @ForeignKey(() => ServiceAccountEntity, { name: 'api_keys_service_account_id_fkey' })
  serviceAccountId: string;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ name: 'token_prefix', type: 'varchar', length: 40 })
  tokenPrefix: string;

  /** sha256 hex of the token (hashApiKey); the token itself is never stored. */
  @Column({ name: 'token_hash', type: 'char', length: 64, select: false })
  tokenHash: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'modified_by', type: 'varchar', length: 255 })
  modifiedBy: string;

  @DeleteDateColumn({ name: 'deleted_at', type: 'timestamptz' })
  deletedAt: Date | null;
}
