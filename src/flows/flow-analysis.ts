import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { TenantSchema } from '../common/validation/json-schema';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { Notifier } from '../database/notifier';
import { downstreamTasks, FlowTask, flowTasks, inputTasks, orderedTaskNames } from './flow-definition';
import { FlowsRepository } from './flows.repository';

/** `flows` rows whose latest version or deletion changed, by any path: the payload is the flow's id (notify_flow_change). */
export const FLOW_CHANGES_CHANNEL = 'flow_changes';

/**
 * What a flow version's definition says, computed once: its tasks, input tasks, order, and the
 * schemas it checks requests against (compiled on first use). A version never changes once written.
 */
export class FlowAnalysis {
  readonly tasks: readonly FlowTask[];
  readonly inputTasks: readonly FlowTask[];
  private readonly byName: Map<string, FlowTask>;
  private order: string[] | undefined;
  private readonly schemas = new Map<string, TenantSchema>();

  constructor(
    readonly flowId: string,
    readonly version: number,
    readonly definition: unknown,
  ) {
    this.tasks = flowTasks(definition);
    this.inputTasks = inputTasks(definition);
    this.byName = new Map(this.tasks.map((t) => [t.name, t]));
  }

  task(name: string): FlowTask | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get orderedTaskNames(): string[] {
    return (this.order ??= orderedTaskNames(this.definition));
  }

  downstream(taskName: string): string[] {
    return downstreamTasks(this.definition, taskName);
  }

  /** One of the version's schemas (`key`: which, e.g. `<task>:input`), kept with its compiled validator. */
  schema(key: string, schema: object): TenantSchema {
    let kept = this.schemas.get(key);
    if (!kept) this.schemas.set(key, (kept = new TenantSchema(schema)));
    return kept;
  }
}

/** A live flow's latest version as a create needs it; dropped on every replica when the flow changes. */
export interface FlowHead {
  organizationId: string;
  analysis: FlowAnalysis;
}

/**
 * Flow versions' analyses by `(flow, version)`, shared by creates, task reports and updates,
 * webhook data and tags, and each live flow's latest version (its head) for creates. Both are
 * bounded LRUs of `FLOW_ANALYSIS_CACHE_SIZE` entries, per process. Versions never change; a head
 * changes when a draft gets a new version or the flow is deleted, and the `flow_changes`
 * notification drops it on every replica (this process drops its own at once).
 */
@Injectable()
export class FlowAnalysisCache {
  private readonly versions: Lru<FlowAnalysis>;
  private readonly heads: Lru<FlowHead>;

  constructor(
    private readonly repository: FlowsRepository,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
    notifier: Notifier,
  ) {
    this.versions = new Lru(config.flowAnalysisCacheSize);
    this.heads = new Lru(config.flowAnalysisCacheSize);
    metrics.flowAnalysisEntries(() => this.versions.size + this.heads.size);
    notifier.listen(FLOW_CHANGES_CHANNEL, {
      notification: (flowId) => this.invalidate(flowId),
      // Changes made while nobody listened are unknown.
      gap: () => this.heads.clear(),
    });
  }

  /** The analysis of a version; undefined when it does not exist. In the caller's transaction, when given, on a miss. */
  async analysis(flowId: string, version: number, manager?: EntityManager): Promise<FlowAnalysis | undefined> {
    const key = `${flowId}:${version}`;
    const cached = this.versions.get(key);
    this.metrics.flowAnalysisLookup('version', cached !== undefined);
    if (cached) return cached;
    const definition = await this.repository.findDefinition(flowId, version, manager);
    return definition === undefined ? undefined : this.remember(flowId, version, definition);
  }

  /** Several versions' analyses, by `flow:version`; one statement for all misses. */
  async analyses(versions: { flowId: string; version: number }[], manager?: EntityManager): Promise<Map<string, FlowAnalysis>> {
    if (versions.length === 1) {
      const [{ flowId, version }] = versions;
      const one = await this.analysis(flowId, version, manager);
      return new Map(one ? [[`${flowId}:${version}`, one]] : []);
    }
    const found = new Map<string, FlowAnalysis>();
    const missing: { flowId: string; version: number }[] = [];
    for (const v of versions) {
      const cached = this.versions.get(`${v.flowId}:${v.version}`);
      this.metrics.flowAnalysisLookup('version', cached !== undefined);
      if (cached) found.set(`${v.flowId}:${v.version}`, cached);
      else missing.push(v);
    }
    if (missing.length > 0) {
      for (const row of await this.repository.findDefinitions(missing, manager)) {
        found.set(`${row.flow_id}:${row.version}`, this.remember(row.flow_id, row.version, row.definition));
      }
    }
    return found;
  }

  /** The cached head of a live flow, or undefined (not cached: the caller reads it, see `rememberHead`). */
  head(flowId: string): FlowHead | undefined {
    const head = this.heads.get(flowId);
    this.metrics.flowAnalysisLookup('head', head !== undefined);
    return head;
  }

  /** A head just read from the database, kept until the flow changes. */
  rememberHead(flowId: string, organizationId: string, version: number, definition: unknown): FlowHead {
    const cached = this.versions.get(`${flowId}:${version}`);
    const head = { organizationId, analysis: cached ?? this.remember(flowId, version, definition) };
    this.heads.set(flowId, head);
    return head;
  }

  /** The flow changed (a new version, deleted): its head is read again on its next use. */
  invalidate(flowId: string): void {
    if (this.heads.delete(flowId)) this.metrics.flowAnalysisInvalidated();
  }

  private remember(flowId: string, version: number, definition: unknown): FlowAnalysis {
    const analysis = new FlowAnalysis(flowId, version, definition);
    this.versions.set(`${flowId}:${version}`, analysis);
    return analysis;
  }
}

/** A Map kept in use order: a hit moves its key to the end, and past `limit` the first (least recently used) goes. */
export class Lru<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value as string);
  }

  delete(key: string): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}
