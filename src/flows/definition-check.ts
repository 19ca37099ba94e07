import { DslIssue, definitionLimitIssues, dslIssues, orderedTaskNames, validateFlowDefinition } from './flow-definition';

/**
 * The checks of a definition being saved, as plain data, so that they can run on a JSON worker
 * (src/flows/flow-worker.ts): the limits (a 422), then the DSL's rules (`invalid_dsl_input`), and,
 * for a valid one, the ordered task names when the answer includes them.
 */
export type DefinitionVerdict = { limits: DslIssue[] } | { problems: string[] } | { order: string[] | null };

export function checkDefinition({ definition, order }: { definition: unknown; order: boolean }): DefinitionVerdict {
  const limits = definitionLimitIssues(definition);
  if (limits.length > 0) return { limits };
  const problems = validateFlowDefinition(definition);
  if (problems.length > 0) return { problems };
  return { order: order ? orderedTaskNames(definition) : null };
}

/** What a read that includes them shows of a stored version: its problems (`validation_errors`) and its order, each when asked. */
export interface DerivedParts {
  issues: DslIssue[] | null;
  order: string[] | null;
}

/** What a definition's answers derive from it; `definitionText` (JSON text, as PostgreSQL renders it) in place of `definition` is parsed here. */
export function deriveDefinition(task: ({ definition: unknown } | { definitionText: string }) & { issues: boolean; order: boolean }): DerivedParts {
  const definition = 'definitionText' in task ? (JSON.parse(task.definitionText) as unknown) : task.definition;
  return { issues: task.issues ? dslIssues(definition) : null, order: task.order ? orderedTaskNames(definition) : null };
}

/** Characters (strings and member names) of a definition past which its checks run on a JSON worker. */
export const WORKER_DEFINITION_CHARS = 4_096;

// Members whose value is a schema the checks compile (an input task's input_schema, a webhook_receiver's fields).
const SCHEMA_MEMBERS = new Set(['input_schema', 'fields']);

/**
 * Whether checking `definition` is worth a worker round trip (about 0.2 ms of the event loop): it
 * holds a schema to compile (a millisecond or more even when small), or `WORKER_DEFINITION_CHARS`
 * of text or more (about 0.1 ms a KiB here). Stops once it knows: a small part of what the checks cost.
 */
export function checkIsHeavy(definition: unknown): boolean {
  let chars = 0;
  const pending: unknown[] = [definition];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node === 'string') chars += node.length;
    else if (Array.isArray(node)) {
      chars += node.length;
      for (const item of node) pending.push(item);
    } else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (SCHEMA_MEMBERS.has(key) && value !== null && typeof value === 'object') return true;
        chars += key.length + 1;
        pending.push(value);
      }
    }
    if (chars >= WORKER_DEFINITION_CHARS) return true;
  }
  return false;
}
