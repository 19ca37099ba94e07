import { compileTenantSchema, PatternTally, SchemaValidator, schemaLimitIssues } from '../common/validation/json-schema';

export interface FlowTask {
  name: string;
  task_executor_name: string;
  parameters: Record<string, unknown>;
}

/** One problem in a definition: the path inside the definition and what is wrong there. */
export interface DslIssue {
  loc: (string | number)[];
  msg: string;
}

type Loc = (string | number)[];

interface LocatedTask {
  task: FlowTask;
  loc: Loc;
}

interface Reference {
  loc: Loc;
  /** The referenced task name, known or not. */
  target: string;
  known: boolean;
}

/** Bounds of a definition that no real flow reaches: they keep each check of it linear and its messages short. */
export const DEFINITION_LIMITS = {
  /** Characters of a task's `name` and `task_executor_name` (task names are stored as varchar(200)). */
  nameLength: 200,
  /** Characters of any string (or member name) of the definition. */
  stringLength: 65_536,
  /** Tasks of all flow configs together. */
  tasks: 1_000,
} as const;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;

/** All tasks of all flow configs, in definition order (assumes a valid definition; malformed tasks are skipped). */
export function flowTasks(definition: unknown): FlowTask[] {
  return locatedTasks(definition).map(({ task }) => task);
}

/** Every problem of the definition as `path: message` strings; `[]` when it is valid. */
export function validateFlowDefinition(definition: unknown): string[] {
  return dslIssues(definition).map(formatDslIssue);
}

export function formatDslIssue(issue: DslIssue): string {
  return `${issue.loc.length > 0 ? issue.loc.join('.') : 'definition'}: ${issue.msg}`;
}

/** Roots of the graph: tasks that reference no other task. */
export function inputTasks(definition: unknown): FlowTask[] {
  const graph = buildGraph(definition);
  return graph.tasks.filter((task) => graph.dependencies.get(task.name)!.size === 0);
}

/** `parameters.input_schema` when it is an object (a JSON Schema). */
export function inputSchemaOf(task: FlowTask): object | undefined {
  const schema = task.parameters?.input_schema;
  return isRecord(schema) ? schema : undefined;
}

/** The executor of tasks that wait for data posted to `POST /flow-executions/{id}/webhook-data`. */
export const WEBHOOK_RECEIVER = 'webhook_receiver';

/**
 * A webhook_receiver task's output model as a JSON Schema: `parameters.fields` maps each field name
 * to a JSON Schema; every field is required unless its schema has a `default`, and no other field is
 * allowed. Without `fields`, any object. Throws when `fields` is not such a map.
 */
export function outputModelOf(task: FlowTask): object | undefined {
  const fields = task.parameters?.fields;
  if (fields === undefined || fields === null) return undefined;
  if (!isRecord(fields)) throw new Error('fields must be an object mapping each field name to a JSON Schema');
  for (const [name, schema] of Object.entries(fields)) {
    if (!isRecord(schema) && typeof schema !== 'boolean') throw new Error(`fields.${name} must be a JSON Schema (an object or a boolean)`);
  }
  const required = Object.keys(fields).filter((name) => !(isRecord(fields[name]) && 'default' in fields[name]));
  return { type: 'object', properties: fields, required, additionalProperties: false };
}

/** Topological order; among tasks that are ready together, definition order decides. */
export function orderedTaskNames(definition: unknown): string[] {
  return topologicalOrder(buildGraph(definition));
}

/** Every task that depends on `taskName`, directly or transitively, in topological order. */
export function downstreamTasks(definition: unknown, taskName: string): string[] {
  const graph = buildGraph(definition);
  if (!graph.dependents.has(taskName)) return [];
  const reached = new Set<string>();
  const pending = [taskName];
  while (pending.length > 0) {
    for (const next of graph.dependents.get(pending.pop()!)!) {
      if (next !== taskName && !reached.has(next)) {
        reached.add(next);
        pending.push(next);
      }
    }
  }
  return topologicalOrder(graph).filter((name) => reached.has(name));
}

/** The structured form of `validateFlowDefinition`, for responses that carry locations as lists. */
export function dslIssues(definition: unknown): DslIssue[] {
  if (!isRecord(definition)) return [{ loc: [], msg: 'Definition must be an object' }];
  const configs = definition.flow_configs;
  if (configs === undefined || configs === null) return [{ loc: ['flow_configs'], msg: 'Field required' }];
  if (!Array.isArray(configs)) return [{ loc: ['flow_configs'], msg: 'Must be a list of flow configs' }];
  if (configs.length === 0) return [{ loc: ['flow_configs'], msg: 'Must contain at least one flow config' }];

  const issues: DslIssue[] = [];
  let taskEntries = 0;
  for (const [i, entry] of configs.entries()) {
    const loc: Loc = ['flow_configs', i];
    const tasks = isRecord(entry) && isRecord(entry.config) ? entry.config.tasks : undefined;
    if (!isRecord(entry)) issues.push({ loc, msg: 'Flow config must be an object' });
    else if (!isRecord(entry.config)) issues.push({ loc: [...loc, 'config'], msg: 'Flow config must have a config object' });
    else if (!Array.isArray(tasks)) issues.push({ loc: [...loc, 'config', 'tasks'], msg: 'Must be a list of tasks' });
    else {
      taskEntries += tasks.length;
      tasks.forEach((task, j) => issues.push(...taskShapeIssues(task, [...loc, 'config', 'tasks', j])));
    }
  }
  if (taskEntries === 0 && issues.length === 0) issues.push({ loc: ['flow_configs'], msg: 'The flow must contain at least one task' });

  const located = locatedTasks(definition);
  const first = new Map<string, LocatedTask>();
  for (const entry of located) {
    if (first.has(entry.task.name)) issues.push({ loc: [...entry.loc, 'name'], msg: `Duplicate task name '${entry.task.name}'` });
    else first.set(entry.task.name, entry);
  }

  const names = taskNames(first.keys());
  for (const { task, loc } of located) {
    for (const ref of references(task.parameters, names)) {
      if (!ref.known) issues.push({ loc: [...loc, 'parameters', ...ref.loc], msg: `Reference to unknown task '${ref.target}'` });
    }
  }

  const graph = buildGraph(definition);
  for (const cycle of cycles(graph)) {
    const msg =
      cycle.length === 1
        ? `Circular dependency: task '${cycle[0]}' references itself`
        : `Circular dependency between tasks ${cycle.map((name) => `'${name}'`).join(', ')}`;
    issues.push({ loc: first.get(cycle[0])!.loc, msg });
  }

  for (const task of graph.tasks) {
    if (graph.dependencies.get(task.name)!.size > 0 || task.parameters.input_schema === undefined) continue;
    const loc = [...first.get(task.name)!.loc, 'parameters', 'input_schema'];
    const problem = schemaProblem(task.parameters.input_schema);
    if (problem) issues.push({ loc, msg: problem });
  }
  for (const task of graph.tasks) {
    if (task.task_executor_name !== WEBHOOK_RECEIVER || task.parameters.fields === undefined) continue;
    const loc = [...first.get(task.name)!.loc, 'parameters', 'fields'];
    let model: object | undefined;
    try {
      model = outputModelOf(task);
    } catch (error) {
      issues.push({ loc, msg: (error as Error).message });
      continue;
    }
    const problem = model && schemaProblem(model);
    if (problem) issues.push({ loc, msg: problem });
  }
  return issues;
}

function taskShapeIssues(task: unknown, loc: Loc): DslIssue[] {
  if (!isRecord(task)) return [{ loc, msg: 'Task must be an object' }];
  const issues: DslIssue[] = [];
  if (!isNonEmptyString(task.name)) issues.push({ loc: [...loc, 'name'], msg: 'Task name must be a non-empty string' });
  if (!isNonEmptyString(task.task_executor_name)) {
    issues.push({ loc: [...loc, 'task_executor_name'], msg: 'Task executor name must be a non-empty string' });
  }
  if (task.parameters !== undefined && task.parameters !== null && !isRecord(task.parameters)) {
    issues.push({ loc: [...loc, 'parameters'], msg: 'Parameters must be an object' });
  }
  return issues;
}

function locatedTasks(definition: unknown): LocatedTask[] {
  if (!isRecord(definition) || !Array.isArray(definition.flow_configs)) return [];
  const result: LocatedTask[] = [];
  definition.flow_configs.forEach((entry: unknown, i: number) => {
    const tasks = isRecord(entry) && isRecord(entry.config) ? entry.config.tasks : undefined;
    if (!Array.isArray(tasks)) return;
    tasks.forEach((task: unknown, j: number) => {
      if (!isRecord(task) || !isNonEmptyString(task.name)) return;
      result.push({
        task: {
          name: task.name,
          task_executor_name: typeof task.task_executor_name === 'string' ? task.task_executor_name : '',
          parameters: isRecord(task.parameters) ? task.parameters : {},
        },
        loc: ['flow_configs', i, 'config', 'tasks', j],
      });
    });
  });
  return result;
}

/**
 * Every `{{name.field}}` in any string, however deep, of `parameters`. The task is the longest known
 * name followed by a dot (names may contain dots); `{{name}}` alone refers to a known task only.
 * Iterative, so that a deeply nested body cannot overflow the stack.
 */
function references(parameters: Record<string, unknown>, names: TaskNames): Reference[] {
  type Step = { value: unknown; key: string | number; parent: Step | null };
  const locOf = (step: Step): Loc => {
    const loc: Loc = [];
    for (let at: Step | null = step; at?.parent; at = at.parent) loc.push(at.key);
    return loc.reverse();
  };
  const found: Reference[] = [];
  const pending: Step[] = [{ value: parameters, key: '', parent: null }];
  while (pending.length > 0) {
    const step = pending.pop()!;
    const { value } = step;
    if (typeof value === 'string') {
      for (const expression of templateExpressions(value)) {
        const ref = resolveReference(expression, names);
        if (ref) found.push({ ...ref, loc: locOf(step) });
      }
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push({ value: value[i], key: i, parent: step });
    } else if (isRecord(value)) {
      for (const key of Object.keys(value).reverse()) pending.push({ value: value[key], key, parent: step });
    }
  }
  return found;
}

/**
 * The expressions of `{{ expression }}` templates in `text`, trimmed: what
 * `/\{\{\s*([^{}]*?)\s*\}\}/g` captures, found in one pass (that regex backtracks cubically: 5 s for
 * `{{` and 2,000 spaces). After a `{{`, the expression runs to the next brace; it is one if that
 * brace starts `}}`, otherwise the search goes on from the next character.
 */
export function templateExpressions(text: string): string[] {
  const found: string[] = [];
  let from = 0;
  for (let open = text.indexOf('{{'); open >= 0; open = text.indexOf('{{', from)) {
    let end = open + 2;
    while (end < text.length && text[end] !== '{' && text[end] !== '}') end++;
    if (text[end] === '}' && text[end + 1] === '}') {
      found.push(text.slice(open + 2, end).trim());
      from = end + 2;
    } else {
      // The next `{{` is at open + 1 or at `end`: nothing between holds a brace, so each character is scanned at most twice.
      from = open + 1;
    }
  }
  return found;
}

/** The task names of a definition, and the length of the longest, past which no prefix of an expression can be one. */
interface TaskNames {
  has(name: string): boolean;
  longest: number;
}

function taskNames(names: Iterable<string>): TaskNames {
  const set = new Set(names);
  let longest = 0;
  for (const name of set) longest = Math.max(longest, name.length);
  return { has: (name) => set.has(name), longest };
}

function resolveReference(expression: string, names: TaskNames): Omit<Reference, 'loc'> | null {
  const { longest } = names;
  if (expression.length <= longest && names.has(expression)) return { target: expression, known: true };
  const firstDot = expression.indexOf('.');
  if (firstDot <= 0) return null;
  // The longest known name that ends at a dot: one look-up per dot, among the first `longest` characters only.
  for (let dot = expression.lastIndexOf('.', longest); dot > 0; dot = expression.lastIndexOf('.', dot - 1)) {
    const candidate = expression.slice(0, dot);
    if (names.has(candidate)) return { target: candidate, known: true };
  }
  return { target: expression.slice(0, firstDot), known: false };
}

interface Graph {
  /** Unique tasks in definition order (the first of duplicates). */
  tasks: FlowTask[];
  /** name → names it references (self included, for cycle detection). */
  dependencies: Map<string, Set<string>>;
  /** name → names that reference it. */
  dependents: Map<string, Set<string>>;
}

function buildGraph(definition: unknown): Graph {
  const tasks: FlowTask[] = [];
  const dependencies = new Map<string, Set<string>>();
  const dependents = new Map<string, Set<string>>();
  for (const { task } of locatedTasks(definition)) {
    if (dependencies.has(task.name)) continue;
    tasks.push(task);
    dependencies.set(task.name, new Set());
    dependents.set(task.name, new Set());
  }
  const names = taskNames(dependencies.keys());
  for (const task of tasks) {
    for (const ref of references(task.parameters, names)) {
      if (!ref.known) continue;
      dependencies.get(task.name)!.add(ref.target);
      dependents.get(ref.target)!.add(task.name);
    }
  }
  return { tasks, dependencies, dependents };
}

/** Kahn's algorithm, always taking the ready task that comes first in the definition (a heap: O(n log n)). Tasks on a cycle come last. */
function topologicalOrder(graph: Graph): string[] {
  const index = new Map(graph.tasks.map((task, i) => [task.name, i]));
  const waiting = new Map(graph.tasks.map((task) => [task.name, graph.dependencies.get(task.name)!.size]));
  const ready = new MinHeap<number>((a, b) => a - b);
  graph.tasks.forEach((task, i) => waiting.get(task.name) === 0 && ready.push(i));
  const order: string[] = [];
  while (ready.size > 0) {
    const name = graph.tasks[ready.pop()!].name;
    order.push(name);
    for (const next of graph.dependents.get(name)!) {
      const left = waiting.get(next)! - 1;
      waiting.set(next, left);
      if (left === 0) ready.push(index.get(next)!);
    }
  }
  if (order.length < graph.tasks.length) {
    const placed = new Set(order);
    order.push(...graph.tasks.map((task) => task.name).filter((name) => !placed.has(name)));
  }
  return order;
}

class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    let i = items.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.before(items[parent], item) <= 0) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const child = left + 1 < items.length && this.before(items[left + 1], items[left]) < 0 ? left + 1 : left;
      if (this.before(last, items[child]) <= 0) break;
      items[i] = items[child];
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/** Strongly connected components that contain a cycle (Tarjan, iterative), members in definition order. */
function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const order = new Map(graph.tasks.map((task, i) => [task.name, i]));
  const result: string[][] = [];
  let counter = 0;

  for (const root of graph.tasks.map((task) => task.name)) {
    if (index.has(root)) continue;
    const frames: { name: string; next: Iterator<string> }[] = [];
    const open = (name: string) => {
      index.set(name, counter);
      low.set(name, counter++);
      stack.push(name);
      onStack.add(name);
      frames.push({ name, next: graph.dependencies.get(name)!.values() });
    };
    open(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      const step = frame.next.next();
      if (!step.done) {
        const to = step.value;
        if (!index.has(to)) open(to);
        else if (onStack.has(to)) low.set(frame.name, Math.min(low.get(frame.name)!, index.get(to)!));
        continue;
      }
      frames.pop();
      if (frames.length > 0) {
        const parent = frames[frames.length - 1].name;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.name)!));
      }
      if (low.get(frame.name) !== index.get(frame.name)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.name);
      if (component.length > 1 || graph.dependencies.get(frame.name)!.has(frame.name)) {
        result.push(component.sort((a, b) => order.get(a)! - order.get(b)!));
      }
    }
  }
  return result.sort((a, b) => order.get(a[0])! - order.get(b[0])!);
}

/** Compiles an input task's JSON Schema (2020-12), or an output model, into a validator; throws when it is not a valid schema or over the limits. */
export function compileInputSchema(schema: object): SchemaValidator {
  return compileTenantSchema(schema);
}

function schemaProblem(schema: unknown): string | null {
  if (!isRecord(schema)) return 'Input schema must be a JSON Schema object';
  try {
    compileInputSchema(schema);
    return null;
  } catch (error) {
    return `Invalid JSON Schema: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * What puts a definition over `DEFINITION_LIMITS` or a schema it will run over `SCHEMA_LIMITS`
 * (patterns RE2 cannot run included), with where. Checked before anything else looks at the
 * definition: a flow is saved with none of these.
 */
export function definitionLimitIssues(definition: unknown): DslIssue[] {
  const issues: DslIssue[] = [];
  const pending: [unknown, Loc][] = [[definition, []]];
  while (pending.length > 0 && issues.length < MAX_LIMIT_ISSUES) {
    const [node, loc] = pending.pop()!;
    if (typeof node === 'string') {
      if (node.length > DEFINITION_LIMITS.stringLength)
        issues.push({ loc, msg: `String is too long (more than ${DEFINITION_LIMITS.stringLength} characters)` });
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) pending.push([node[i], [...loc, i]]);
    } else if (isRecord(node)) {
      for (const key of Object.keys(node).reverse()) {
        if (key.length > DEFINITION_LIMITS.stringLength)
          issues.push({ loc, msg: `Member name is too long (more than ${DEFINITION_LIMITS.stringLength} characters)` });
        pending.push([node[key], [...loc, key]]);
      }
    }
  }
  if (issues.length > 0) return issues;

  const configs = isRecord(definition) && Array.isArray(definition.flow_configs) ? definition.flow_configs : [];
  const taskCount = configs.reduce((n: number, entry: unknown) => {
    const tasks = isRecord(entry) && isRecord(entry.config) ? entry.config.tasks : undefined;
    return n + (Array.isArray(tasks) ? tasks.length : 0);
  }, 0);
  if (taskCount > DEFINITION_LIMITS.tasks)
    return [{ loc: ['flow_configs'], msg: `A flow has at most ${DEFINITION_LIMITS.tasks} tasks; this one has ${taskCount}` }];

  for (const { task, loc } of locatedTasks(definition)) {
    for (const field of ['name', 'task_executor_name'] as const) {
      if (task[field].length > DEFINITION_LIMITS.nameLength)
        issues.push({ loc: [...loc, field], msg: `Must be at most ${DEFINITION_LIMITS.nameLength} characters` });
    }
  }
  if (issues.length > 0) return issues;

  // The schemas the service runs: input tasks' input_schema, webhook_receiver tasks' fields.
  const graph = buildGraph(definition);
  const first = new Map<string, Loc>();
  for (const { task, loc } of locatedTasks(definition)) if (!first.has(task.name)) first.set(task.name, loc);
  const tally: PatternTally = { patterns: 0, instructions: 0 };
  for (const task of graph.tasks) {
    const schemas: [unknown, Loc][] = [];
    if (graph.dependencies.get(task.name)!.size === 0 && isRecord(task.parameters.input_schema)) schemas.push([task.parameters.input_schema, ['input_schema']]);
    if (task.task_executor_name === WEBHOOK_RECEIVER && isRecord(task.parameters.fields)) schemas.push([task.parameters.fields, ['fields']]);
    for (const [schema, at] of schemas) {
      for (const issue of schemaLimitIssues(schema, tally)) issues.push({ loc: [...first.get(task.name)!, 'parameters', ...at, ...issue.loc], msg: issue.msg });
    }
  }
  return issues.slice(0, MAX_LIMIT_ISSUES);
}

const MAX_LIMIT_ISSUES = 20;
