import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '../common/auth/principal';
import { badRequest, conflict, forbidden, notFound } from '../common/errors/app-error';
import { RequestValidationError } from '../common/validation/validation-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventLog } from '../event-log/event-log.service';
import { completedEvent } from './bulk-action-events';
import { BulkActionWorker } from './bulk-action-worker';
import { FlowExecutionsService } from '../flow-executions/flow-executions.service';
import { parseSelection, selectionToWire } from '../flow-executions/selection';
import {
  BulkActionDryRunResponseDto,
  BulkActionItemsPageDto,
  BulkActionResponseDto,
  BulkActionRow,
  BulkActionsPageDto,
  CreateBulkActionDto,
  ListBulkActionItemsQueryDto,
  ListBulkActionsQueryDto,
  toBulkActionResponse,
} from './dto/bulk-action.dto';
import { BulkActionsRepository } from './bulk-actions.repository';

const SAMPLE_SIZE = 10;

/** docs/api.md#bulk-actions: the resource; BulkActionWorker does the work. */
@Injectable()
export class BulkActionsService {
  constructor(
    private readonly repository: BulkActionsRepository,
    private readonly executions: FlowExecutionsService,
    private readonly events: EventLog,
    private readonly worker: BulkActionWorker,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * A dry run previews; otherwise, in one transaction: the organization's cap, the flow check, the
   * action, and its matched set frozen as items (past the cap on runs, everything rolls back).
   */
  async create(principal: Principal, dto: CreateBulkActionDto): Promise<BulkActionResponseDto | BulkActionDryRunResponseDto> {
    const selection = parseSelection(principal.organizationId, dto.selection);
    const { maxRuns, perOrganization } = this.config.bulkActions;
    if (dto.dry_run === true) {
      const preview = await this.executions.preview(selection, maxRuns, SAMPLE_SIZE);
      if (preview.matched! > maxRuns) throw tooManyRuns(maxRuns);
      return { action: dto.action, dry_run: true, selection: selectionToWire(selection), matched: preview.matched!, sample: preview.sample };
    }
    await this.executions.preview(selection, null, 0);
    const row = await this.events.transaction(async (m) => {
      await this.repository.lockOrganization(m, principal.organizationId);
      if ((await this.repository.unfinishedCount(m, principal.organizationId)) >= perOrganization) {
        throw new RequestValidationError([
          {
            loc: ['body'],
            msg: `The organization has ${perOrganization} bulk actions queued or running, the most it may have (BULK_ACTIONS_PER_ORG); wait for one to finish or cancel one`,
            type: 'too_many_bulk_actions',
          },
        ]);
      }
      const action = await this.repository.insert(m, {
        organizationId: principal.organizationId,
        flowId: selection.flowId,
        action: dto.action,
        selection: selectionToWire(selection),
        createdBy: principal.subject,
        createdByRole: principal.role,
      });
      const matched = await this.repository.freeze(m, action.id, selection, maxRuns);
      if (matched > maxRuns) throw tooManyRuns(maxRuns);
      const row = await this.repository.setMatched(m, action.id, matched);
      if (row.status === 'completed') this.events.record(m, completedEvent(row));
      return row;
    });
    this.worker.wake();
    return toBulkActionResponse(row);
  }

  async get(principal: Principal, id: string): Promise<BulkActionResponseDto> {
    return toBulkActionResponse(await this.find(principal, id));
  }

  async list(principal: Principal, query: ListBulkActionsQueryDto): Promise<BulkActionsPageDto> {
    const limit = query.limit ?? 50;
    const page = await this.repository.list(principal.organizationId, query.after?.toLowerCase() ?? null, limit);
    if (page.cursor === 'missing') throw badRequest('after does not name a bulk action of this organization');
    const last = page.rows.length === limit ? page.rows[page.rows.length - 1].id : null;
    return { bulk_actions: page.rows.map(toBulkActionResponse), next_cursor: last };
  }

  async items(principal: Principal, id: string, query: ListBulkActionItemsQueryDto): Promise<BulkActionItemsPageDto> {
    await this.find(principal, id);
    const limit = query.limit ?? 100;
    const rows = await this.repository.items(id, query.outcome ?? null, Number(query.after ?? 0), limit);
    return {
      items: rows.map((r) => ({ flow_execution_id: r.flow_execution_id, outcome: r.outcome, error: r.error, processed_at: r.processed_at })),
      next_cursor: rows.length === limit ? String(rows[rows.length - 1].seq) : null,
    };
  }

  /** Stops a queued or running action after the batch in progress; its unprocessed items stay `pending`. Cancelling again is a no-op. */
  async cancel(principal: Principal, id: string): Promise<BulkActionResponseDto> {
    const current = await this.find(principal, id);
    if (current.status === 'cancelled') return toBulkActionResponse(current);
    const row = await this.events.transaction(async (m) => {
      const row = await this.repository.cancel(m, id);
      if (row) this.events.record(m, completedEvent(row));
      return row;
    });
    if (!row) {
      const now = await this.find(principal, id);
      if (now.status === 'cancelled') return toBulkActionResponse(now);
      throw conflict(`Cannot cancel a bulk action in status '${now.status}'`, { current_status: now.status });
    }
    return toBulkActionResponse(row);
  }

  private async find(principal: Principal, id: string): Promise<BulkActionRow> {
    const row = await this.repository.findById(id);
    if (!row) throw notFound('Bulk action');
    if (row.organization_id !== principal.organizationId) throw forbidden("User doesn't have access to this bulk action");
    return row;
  }
}

function tooManyRuns(maxRuns: number): RequestValidationError {
  return new RequestValidationError([
    {
      loc: ['body', 'selection'],
      msg: `The selection matches more than ${maxRuns} runs, the most one bulk action may act on (BULK_ACTION_MAX_RUNS); narrow it`,
      type: 'too_many_runs',
    },
  ]);
}
