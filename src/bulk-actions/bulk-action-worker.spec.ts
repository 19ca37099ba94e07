import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import { AppError } from '../common/errors/app-error';
import type { AppConfig } from '../config/app-config';
import type { EventLog } from '../event-log/event-log.service';
import type { ExecutionLifecycle } from '../flow-executions/execution-lifecycle';
import type { FlowExecutionsService } from '../flow-executions/flow-executions.service';
import type { FlowExecutionRow } from '../flow-executions/dto/flow-execution.dto';
import { BulkActionWorker } from './bulk-action-worker';
import type { BulkActionsRepository, ItemOutcomeToWrite } from './bulk-actions.repository';
import type { BulkActionKind, BulkActionRow } from './dto/bulk-action.dto';

const m = {} as EntityManager;
const RUNS = ['run-1', 'run-2', 'run-3'];

/**
 * One batch of an action on RUNS through a worker whose database is fakes: what it wrote as the
 * items' outcomes, and how the lifecycle was asked (the batch in one statement, or run by run).
 */
async function batchOf(
  action: BulkActionKind,
  lifecycle: { changeEach?: () => Promise<(FlowExecutionRow | AppError)[]>; change?: (id: string) => Promise<void> },
) {
  const row = { id: 'action', organization_id: 'org', flow_id: 'flow', action, created_by: 'someone', created_by_role: 'org_admin' } as BulkActionRow;
  const written: ItemOutcomeToWrite[][] = [];
  const asked = { together: 0, alone: [] as string[] };
  const repository = {
    claim: async () => row,
    pending: async (_m: EntityManager, _id: string, limit: number) => RUNS.slice(0, limit).map((id, i) => ({ seq: i + 1, flow_execution_id: id })),
    recordOutcomes: async (_m: EntityManager, _id: string, outcomes: ItemOutcomeToWrite[]) => void written.push(outcomes),
    advance: async () => row,
  } as unknown as BulkActionsRepository;
  const events = {
    transaction: (fn: (m: EntityManager) => Promise<unknown>) => fn(m),
    savepoint: (_m: EntityManager, fn: () => Promise<unknown>) => fn(),
    record: () => undefined,
  } as unknown as EventLog;
  const fakeLifecycle = {
    changeEach: async () => {
      asked.together++;
      return lifecycle.changeEach!();
    },
    change: async (_principal: unknown, id: string) => {
      asked.alone.push(id);
      await lifecycle.change!(id);
    },
  } as unknown as ExecutionLifecycle;
  const logger = { warn: () => undefined, error: () => undefined } as unknown as Logger;
  const config = { bulkActions: { batchSize: 100 } } as AppConfig;
  const worker = new BulkActionWorker(repository, fakeLifecycle, {} as FlowExecutionsService, events, config, logger);
  expect(await worker.batch()).toBe(true);
  return { outcomes: written[0], asked };
}

const run = (id: string) => ({ id }) as FlowExecutionRow;

describe('BulkActionWorker', () => {
  it('takes each run’s answer of the one statement as its outcome: a refusal fails the item with its error', async () => {
    const { outcomes, asked } = await batchOf('cancel', {
      changeEach: async () => [
        run('run-1'),
        new AppError('conflict', "Cannot cancel a flow execution in status 'completed'"),
        new AppError('not_found', 'Flow execution not found'),
      ],
    });
    expect(asked).toEqual({ together: 1, alone: [] });
    expect(outcomes).toEqual([
      { seq: 1, outcome: 'succeeded', error: null },
      { seq: 2, outcome: 'failed', error: { code: 'conflict', message: "Cannot cancel a flow execution in status 'completed'" } },
      { seq: 3, outcome: 'failed', error: { code: 'not_found', message: 'Flow execution not found' } },
    ]);
  });

  it('counts a delete of a run gone since as done, as DELETE answers 204 again', async () => {
    const { outcomes } = await batchOf('delete', {
      changeEach: async () => [run('run-1'), new AppError('not_found', 'Flow execution not found'), run('run-3')],
    });
    expect(outcomes.map((o) => o.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('acts run by run when the statement fails whole, each run’s own failure its outcome', async () => {
    const { outcomes, asked } = await batchOf('cancel', {
      changeEach: async () => {
        throw new Error('canceling statement due to statement timeout');
      },
      change: async (id) => {
        if (id === 'run-2') throw new AppError('conflict', "Cannot cancel a flow execution in status 'failed'");
        if (id === 'run-3') throw new Error('connection reset');
      },
    });
    expect(asked).toEqual({ together: 1, alone: RUNS });
    expect(outcomes).toEqual([
      { seq: 1, outcome: 'succeeded', error: null },
      { seq: 2, outcome: 'failed', error: { code: 'conflict', message: "Cannot cancel a flow execution in status 'failed'" } },
      { seq: 3, outcome: 'failed', error: { code: 'internal_error', message: 'The action failed on this run' } },
    ]);
  });

  it('redrives run by run: its work on the runs’ tasks is not in the statement', async () => {
    const { outcomes, asked } = await batchOf('redrive', { change: async () => undefined });
    expect(asked).toEqual({ together: 0, alone: RUNS });
    expect(outcomes.map((o) => o.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });
});
