import type { ValidationIssue } from '../common/validation/validation-error';

/** The longest timeout a flow may set, in seconds (30 days). */
export const MAX_TIMEOUT_SECONDS = 2_592_000;

/** `settings.timeouts` as stored: every field present, null when unset (docs/api.md#timeouts). */
export interface FlowTimeouts {
  execution_seconds: number | null;
  task_heartbeat_seconds: number | null;
  task_seconds: number | null;
  cancel_seconds: number | null;
  awaiting_input_seconds: number | null;
  tasks: Record<string, TaskTimeouts>;
}

export interface TaskTimeouts {
  heartbeat_seconds: number | null;
  seconds: number | null;
}

export const RUN_TIMEOUT_FIELDS = ['execution_seconds', 'task_heartbeat_seconds', 'task_seconds', 'cancel_seconds', 'awaiting_input_seconds'] as const;
export const TASK_TIMEOUT_FIELDS = ['heartbeat_seconds', 'seconds'] as const;

const isSeconds = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_TIMEOUT_SECONDS;
const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * What is wrong with `settings.timeouts.tasks` (the other fields are checked by the DTO): each key
 * must name a task of the flow's definition, each value hold only optional positive whole seconds.
 */
export function taskTimeoutIssues(tasks: unknown, taskNames: readonly string[], root: (string | number)[]): ValidationIssue[] {
  if (tasks === undefined || tasks === null) return [];
  if (!isPlainObject(tasks)) return [{ loc: root, msg: 'tasks must be an object keyed by task name', type: 'object_type', input: null }];
  const known = new Set(taskNames);
  const issues: ValidationIssue[] = [];
  for (const [name, value] of Object.entries(tasks)) {
    if (issues.length >= 20) break;
    const at = [...root, name];
    if (!known.has(name)) {
      issues.push({ loc: at, msg: `the flow has no task named '${name.slice(0, 200)}'`, type: 'unknown_task', input: null });
      continue;
    }
    if (!isPlainObject(value)) {
      issues.push({ loc: at, msg: 'must be an object with heartbeat_seconds and/or seconds', type: 'object_type', input: null });
      continue;
    }
    for (const field of TASK_TIMEOUT_FIELDS) {
      const seconds = value[field];
      if (seconds !== undefined && seconds !== null && !isSeconds(seconds)) {
        issues.push({ loc: [...at, field], msg: `must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}`, type: 'int_range', input: seconds });
      }
    }
  }
  return issues;
}

/** The stored form of `settings.timeouts`, every field present; unknown fields dropped. */
export function normalizeTimeouts(value: unknown): FlowTimeouts {
  const source = isPlainObject(value) ? value : {};
  const pick = (from: Record<string, unknown>, field: string) => (isSeconds(from[field]) ? (from[field] as number) : null);
  // fromEntries defines own properties: a task named `__proto__` stays a key.
  const tasks: Record<string, TaskTimeouts> = Object.fromEntries(
    Object.entries(isPlainObject(source.tasks) ? source.tasks : {})
      .filter(([, task]) => isPlainObject(task))
      .map(([name, task]) => [
        name,
        { heartbeat_seconds: pick(task as Record<string, unknown>, 'heartbeat_seconds'), seconds: pick(task as Record<string, unknown>, 'seconds') },
      ]),
  );
  return {
    execution_seconds: pick(source, 'execution_seconds'),
    task_heartbeat_seconds: pick(source, 'task_heartbeat_seconds'),
    task_seconds: pick(source, 'task_seconds'),
    cancel_seconds: pick(source, 'cancel_seconds'),
    awaiting_input_seconds: pick(source, 'awaiting_input_seconds'),
    tasks,
  };
}
