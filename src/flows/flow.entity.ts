import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type FlowStatus = 'draft' | 'published';

@Entity({ name: 'flows' })
@Index('flows_org_created_idx', ['organizationId', 'createdAt', 'id'], { where: 'NOT deleted' })
@Index('flows_org_updated_idx', ['organizationId', 'updatedAt', 'id'], { where: 'NOT deleted' })
export class FlowEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId: string;

  @Column({ name: 'display_name', type: 'varchar', length: 255 })
  displayName: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  visibility: string | null;

  @Column({ type: 'jsonb', nullable: true })
  settings: Record<string, unknown> | null;

  @Column({ type: 'varchar', length: 16, default: 'draft' })
  status: FlowStatus;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  tags: string[];

  @Column({ name: 'latest_version', type: 'integer', default: 1 })
  latestVersion: number;

  /** Maintained by the flow-executions module under the flow's row lock; never counted here. */
  @Column({ name: 'executions_count', type: 'integer', default: 0 })
  executionsCount: number;

  @Column({ name: 'last_execution_at', type: 'timestamptz', nullable: true })
  lastExecutionAt: Date | null;

  @Column({ type: 'boolean', default: false })
  deleted: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'modified_by', type: 'varchar', length: 255 })
  modifiedBy: string;
}
