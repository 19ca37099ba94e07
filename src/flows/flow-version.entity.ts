import { Check, Column, CreateDateColumn, Entity, ForeignKey, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { FlowEntity } from './flow.entity';

/** One immutable definition of a flow; only its name and favourite flag change. */
@Entity({ name: 'flow_versions' })
@Check('flow_versions_version_check', 'version >= 1')
export class FlowVersionEntity {
  @PrimaryColumn({ name: 'flow_id', type: 'uuid' })
  @ForeignKey(() => FlowEntity, { name: 'flow_versions_flow_id_fkey' })
  flowId: string;

  @PrimaryColumn({ type: 'integer' })
  version: number;

  @Column({ type: 'jsonb' })
  definition: Record<string, unknown>;

  @Column({ type: 'varchar', length: 255, nullable: true })
  name: string | null;

  @Column({ name: 'is_favourite', type: 'boolean', default: false })
  isFavourite: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'modified_by', type: 'varchar', length: 255 })
  modifiedBy: string;
}
