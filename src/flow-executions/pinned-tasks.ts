import { AppError, badRequest } from '../common/errors/app-error';
import type { FlowAnalysis } from '../flows/flow-analysis';
import type { FlowExecutionRow } from './dto/flow-execution.dto';

/** A run's pinned flow version, analysed (cached per flow version). */
export type PinnedVersion = FlowAnalysis;

/** A task named in a request, for a run, and where in the request it was named (`task_name`, `tags.1.task_name`). */
export interface NamedTask {
  run: Pick<FlowExecutionRow, 'flow_version'>;
  taskName: string;
  at: string;
}

/**
 * The one answer to task names a run's pinned version lacks: a 400 naming each, with the item that
 * named it. The webhook-data endpoint documents a 404 for it instead (with the words its clients know).
 */
export function unknownTasksError(unknown: NamedTask[], code: 'bad_request' | 'not_found' = 'bad_request'): AppError {
  const details = unknown.map((u) => `${u.at}: unknown task '${u.taskName}'`);
  if (code === 'not_found') {
    const [{ taskName, run }] = unknown;
    return new AppError('not_found', `Task '${taskName}' not found in flow version ${run.flow_version} of this flow execution`, details);
  }
  const names = [...new Set(unknown.map((u) => u.taskName))];
  const versions = [...new Set(unknown.map((u) => u.run.flow_version))];
  const plural = (n: number) => (n > 1 ? 's' : '');
  return badRequest(`Unknown task name${plural(names.length)} for flow version${plural(versions.length)} ${versions.join(', ')}: ${names.join(', ')}`, details);
}
