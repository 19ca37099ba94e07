import Ajv2020 from 'ajv/dist/2020';
import {
  compileInputSchema,
  DEFINITION_LIMITS,
  definitionLimitIssues,
  dslIssues,
  downstreamTasks,
  flowTasks,
  inputSchemaOf,
  inputTasks,
  orderedTaskNames,
  outputModelOf,
  templateExpressions,
  validateFlowDefinition,
} from './flow-definition';

type Task = { name?: unknown; task_executor_name?: unknown; parameters?: unknown; [key: string]: unknown };

const task = (name: string, parameters: Record<string, unknown> = {}, extra: Partial<Task> = {}): Task => ({
  name,
  task_executor_name: 'noop',
  task_title: name.toUpperCase(),
  parameters,
  ...extra,
});
const flow = (...configs: unknown[][]) => ({ flow: { author_uuid: '' }, flow_configs: configs.map((tasks) => ({ config: { tasks }, meta: {} })) });

// The example of the spec's FlowCreateRequest.definition.
const specExample = {
  flow: { author_uuid: '', created_at: '' },
  flow_configs: [
    {
      config: {
        groups: [],
        notes: [],
        tasks: [
          {
            is_schedulable_executor: false,
            name: 'e264bc8d-d6d3-4bef-a18e-a27ad491cd26',
            parameters: {},
            task_executor_name: 'receive_file',
            task_title: 'Receive File',
            visual_properties: { collapsed: false, position: { x: 584.5, y: 359.5 }, zIndex: 2 },
          },
          {
            is_schedulable_executor: false,
            name: '6ef3e60a-94e7-48b0-adbf-80d3ef81c3a6',
            parameters: {
              document_url: '{{e264bc8d-d6d3-4bef-a18e-a27ad491cd26.document_url}}',
              fields: [{ columns: [], data_type: 'int', id: 'InvoiceID', instructions: '', title: 'Invoice ID' }],
              worker: 'gpt-4.1',
            },
            task_executor_name: 'doc_to_structured',
            task_title: 'Doc To Structured',
          },
        ],
      },
      meta: { description: 'Extract data from invoices', name: 'Invoice Processing' },
    },
  ],
};

describe('validateFlowDefinition', () => {
  it('accepts the example definition of the spec', () => {
    expect(validateFlowDefinition(specExample)).toEqual([]);
  });

  it('accepts tasks without parameters and references spread over several flow configs', () => {
    expect(validateFlowDefinition(flow([{ name: 'a', task_executor_name: 'x' }], [task('b', { in: '{{a.out}}' })]))).toEqual([]);
  });

  it.each([
    ['a definition that is not an object', [], 'definition: Definition must be an object'],
    ['missing flow_configs', { flow: {} }, 'flow_configs: Field required'],
    ['flow_configs that is not a list', { flow_configs: {} }, 'flow_configs: Must be a list of flow configs'],
    ['empty flow_configs', { flow_configs: [] }, 'flow_configs: Must contain at least one flow config'],
    ['no tasks at all', flow([], []), 'flow_configs: The flow must contain at least one task'],
    ['a flow config that is not an object', { flow_configs: ['x'] }, 'flow_configs.0: Flow config must be an object'],
    ['a flow config without config', { flow_configs: [{ meta: {} }] }, 'flow_configs.0.config: Flow config must have a config object'],
    ['tasks that are not a list', { flow_configs: [{ config: { tasks: 'a' } }] }, 'flow_configs.0.config.tasks: Must be a list of tasks'],
    ['a task that is not an object', flow([task('a'), 7]), 'flow_configs.0.config.tasks.1: Task must be an object'],
    ['a task without name', flow([{ task_executor_name: 'x' }]), 'flow_configs.0.config.tasks.0.name: Task name must be a non-empty string'],
    ['a task with an empty name', flow([task('  ')]), 'flow_configs.0.config.tasks.0.name: Task name must be a non-empty string'],
    [
      'a task whose name is not a string',
      flow([task('a'), { name: 3, task_executor_name: 'x' }]),
      'flow_configs.0.config.tasks.1.name: Task name must be a non-empty string',
    ],
    [
      'a task without task_executor_name',
      flow([{ name: 'a', parameters: {} }]),
      'flow_configs.0.config.tasks.0.task_executor_name: Task executor name must be a non-empty string',
    ],
    [
      'parameters that are not an object',
      flow([task('a', {}, { parameters: ['x'] })]),
      'flow_configs.0.config.tasks.0.parameters: Parameters must be an object',
    ],
    ['a duplicate task name', flow([task('x'), task('x')]), "flow_configs.0.config.tasks.1.name: Duplicate task name 'x'"],
    ['a duplicate task name in another flow config', flow([task('x')], [task('y'), task('x')]), "flow_configs.1.config.tasks.1.name: Duplicate task name 'x'"],
    [
      'a reference to a task that does not exist, deep in the parameters',
      flow([task('a'), task('b', { deep: { list: [1, { url: 'see {{ghost.url}}' }] } })]),
      "flow_configs.0.config.tasks.1.parameters.deep.list.1.url: Reference to unknown task 'ghost'",
    ],
    ['a task that references itself', flow([task('a', { x: '{{a.out}}' })]), "flow_configs.0.config.tasks.0: Circular dependency: task 'a' references itself"],
    [
      'a cycle, naming its tasks',
      flow([task('in'), task('b', { x: '{{c.out}}', y: '{{in.out}}' }), task('c', { x: '{{d.out}}' }), task('d', { x: '{{b.out}}' })]),
      "flow_configs.0.config.tasks.1: Circular dependency between tasks 'b', 'c', 'd'",
    ],
    [
      'an input schema that does not compile',
      flow([task('a', { input_schema: { type: 'object', properties: { n: { type: 'integr' } } } })]),
      'flow_configs.0.config.tasks.0.parameters.input_schema: Invalid JSON Schema: schema is invalid',
    ],
    [
      'an input schema with an unresolvable $ref',
      flow([task('a', { input_schema: { $ref: '#/$defs/missing' } })]),
      "flow_configs.0.config.tasks.0.parameters.input_schema: Invalid JSON Schema: can't resolve reference #/$defs/missing",
    ],
    [
      'an input schema that is not an object',
      flow([task('a', { input_schema: 'string' })]),
      'flow_configs.0.config.tasks.0.parameters.input_schema: Input schema must be a JSON Schema object',
    ],
    [
      'webhook fields that are not a map of schemas',
      flow([task('in'), task('w', { x: '{{in.o}}', fields: ['approved'] }, { task_executor_name: 'webhook_receiver' })]),
      'flow_configs.0.config.tasks.1.parameters.fields: fields must be an object mapping each field name to a JSON Schema',
    ],
    [
      'a webhook field whose schema does not compile',
      flow([task('in'), task('w', { x: '{{in.o}}', fields: { n: { type: 'integr' } } }, { task_executor_name: 'webhook_receiver' })]),
      'flow_configs.0.config.tasks.1.parameters.fields: Invalid JSON Schema: schema is invalid',
    ],
  ])('reports %s', (_name, definition, expected) => {
    const problems = validateFlowDefinition(definition);
    expect(problems).toHaveLength(1);
    expect(problems[0].startsWith(expected)).toBe(true);
  });

  it('reports every problem at once', () => {
    const problems = validateFlowDefinition(flow([task('a'), task('a'), { name: '', task_executor_name: '' }, task('b', { x: '{{nope.y}}' })]));
    expect(problems).toEqual([
      'flow_configs.0.config.tasks.2.name: Task name must be a non-empty string',
      'flow_configs.0.config.tasks.2.task_executor_name: Task executor name must be a non-empty string',
      "flow_configs.0.config.tasks.1.name: Duplicate task name 'a'",
      "flow_configs.0.config.tasks.3.parameters.x: Reference to unknown task 'nope'",
    ]);
  });

  it('accepts a valid input schema, and ignores input_schema on tasks that are not input tasks', () => {
    const definition = flow([
      task('a', { input_schema: { type: 'object', required: ['email'], properties: { email: { type: 'string', format: 'email' } } } }),
      task('b', { src: '{{a.email}}', input_schema: { type: 'nonsense' } }),
    ]);
    expect(validateFlowDefinition(definition)).toEqual([]);
  });

  it('compiles input schemas independently: an $id in one definition is unknown to the next', () => {
    const withId = flow([task('a', { input_schema: { $id: 'https://example.com/s', $defs: { n: { $id: 'https://example.com/n', type: 'number' } } } })]);
    expect(validateFlowDefinition(withId)).toEqual([]);
    expect(validateFlowDefinition(withId)).toEqual([]);
    const refersToIt = flow([task('a', { input_schema: { $ref: 'https://example.com/n' } })]);
    expect(validateFlowDefinition(refersToIt)).toHaveLength(1);
  });

  it('gives structured locations for responses', () => {
    expect(dslIssues(flow([task('x'), task('x')]))).toEqual([{ loc: ['flow_configs', 0, 'config', 'tasks', 1, 'name'], msg: "Duplicate task name 'x'" }]);
  });

  it('treats only {{task.field}} of known tasks, and {{task}} alone, as references', () => {
    const definition = flow([task('a.b', {}), task('c', { x: '{{ a.b.out }} and {{a.b}}', y: '{{ not a reference }}', z: '{{}}', n: 5, t: true, nil: null })]);
    expect(validateFlowDefinition(definition)).toEqual([]);
    expect(orderedTaskNames(definition)).toEqual(['a.b', 'c']);
    expect(inputTasks(definition).map((t) => t.name)).toEqual(['a.b']);
  });

  it('survives very deep parameters without overflowing the stack', () => {
    let deep: unknown = '{{a.x}}';
    for (let i = 0; i < 20000; i++) deep = [deep];
    expect(validateFlowDefinition(flow([task('a'), task('b', { deep })]))).toEqual([]);
  });
});

describe('graph helpers', () => {
  // d needs b, b needs a, c is independent; definition order d, a, b, c.
  const diamond = flow([task('d', { x: '{{b.out}}' }), task('a', { input_schema: { type: 'object' } }), task('b', { x: ['{{a.out}}'] }), task('c')]);

  it('flowTasks lists every task of every flow config with name, executor and parameters', () => {
    const tasks = flowTasks(flow([task('a')], [{ name: 'b', task_executor_name: 'y' }]));
    expect(tasks).toEqual([
      { name: 'a', task_executor_name: 'noop', parameters: {} },
      { name: 'b', task_executor_name: 'y', parameters: {} },
    ]);
    expect(flowTasks(null)).toEqual([]);
  });

  it('inputTasks are the tasks that reference no other task, in definition order', () => {
    expect(inputTasks(diamond).map((t) => t.name)).toEqual(['a', 'c']);
    expect(inputTasks(specExample).map((t) => t.task_executor_name)).toEqual(['receive_file']);
  });

  it('inputSchemaOf returns parameters.input_schema only when it is an object', () => {
    const [a, c] = inputTasks(diamond);
    expect(inputSchemaOf(a)).toEqual({ type: 'object' });
    expect(inputSchemaOf(c)).toBeUndefined();
    expect(inputSchemaOf({ name: 'x', task_executor_name: 'y', parameters: { input_schema: [1] } })).toBeUndefined();
  });

  it('orderedTaskNames is topological and keeps definition order among ready tasks', () => {
    expect(orderedTaskNames(diamond)).toEqual(['a', 'b', 'd', 'c']);
    expect(orderedTaskNames(specExample)).toEqual(['e264bc8d-d6d3-4bef-a18e-a27ad491cd26', '6ef3e60a-94e7-48b0-adbf-80d3ef81c3a6']);
  });

  it('orderedTaskNames places every task after all it references', () => {
    const wide = flow([task('z', { x: '{{y.o}} {{x.o}}' }), task('y', { x: '{{w.o}}' }), task('x', { x: '{{w.o}}' }), task('w'), task('v', { x: '{{z.o}}' })]);
    expect(orderedTaskNames(wide)).toEqual(['w', 'y', 'x', 'z', 'v']);
  });

  it('orderedTaskNames takes the ready task that comes first, however many are ready at once', () => {
    // b-tasks come first in the definition and each waits for its a-task, which come last and wait for nothing.
    const k = 300;
    const definition = flow([
      ...Array.from({ length: k }, (_, j) => task(`b${j}`, { x: `{{a${k - 1 - j}.o}}` })),
      ...Array.from({ length: k }, (_, j) => task(`a${j}`)),
    ]);
    const expected: string[] = [];
    for (let j = 0; j < k; j++) expected.push(`a${j}`, `b${k - 1 - j}`);
    expect(orderedTaskNames(definition)).toEqual(expected);
  });

  it('orderedTaskNames still lists every task of a cyclic definition', () => {
    expect(orderedTaskNames(flow([task('a', { x: '{{b.o}}' }), task('b', { x: '{{a.o}}' }), task('c')])).sort()).toEqual(['a', 'b', 'c']);
  });

  it('downstreamTasks returns every direct and transitive dependent, in order', () => {
    expect(downstreamTasks(diamond, 'a')).toEqual(['b', 'd']);
    expect(downstreamTasks(diamond, 'b')).toEqual(['d']);
    expect(downstreamTasks(diamond, 'd')).toEqual([]);
    expect(downstreamTasks(diamond, 'c')).toEqual([]);
    expect(downstreamTasks(diamond, 'unknown')).toEqual([]);
  });

  describe('outputModelOf', () => {
    const receiver = (fields: unknown) => ({ name: 'w', task_executor_name: 'webhook_receiver', parameters: { fields } });

    it('is any object without fields', () => {
      expect(outputModelOf({ name: 'w', task_executor_name: 'webhook_receiver', parameters: {} })).toBeUndefined();
    });

    it('requires every field without a default and allows no other', () => {
      const model = outputModelOf(receiver({ approved: { type: 'boolean' }, notes: { type: 'string', default: '' } }))!;
      const validate = compileInputSchema(model);
      expect(validate({ approved: true })).toEqual([]);
      expect(validate({ approved: true, notes: 'ok' })).toEqual([]);
      expect(validate({ notes: 'ok' })).not.toEqual([]);
      expect(validate({ approved: 'yes' })).not.toEqual([]);
      expect(validate({ approved: true, extra: 1 })).not.toEqual([]);
      expect(new Ajv2020().validateSchema(model)).toBe(true);
    });

    it.each([[['a']], ['a'], [{ a: 'string' }]])('refuses fields %p', (fields) => {
      expect(() => outputModelOf(receiver(fields))).toThrow();
    });
  });
});

describe('templateExpressions', () => {
  // The regular expression the scanner replaces: it backtracks cubically on '{{' and spaces.
  const TEMPLATE = /\{\{\s*([^{}]*?)\s*\}\}/g;
  const byRegex = (text: string) => [...text.matchAll(TEMPLATE)].map((m) => m[1]);

  it.each([
    '{{a.b}}',
    'x {{ a.b }} y {{c}}',
    '{{}}',
    '{{ }}',
    '{{{a}}}',
    '{{a}',
    '{{a}}}',
    '{{a{{b}}',
    '{{a}b}}',
    '}}{{ a .b\t\n}}{{',
    '{{ a b }}{{\u00a0x\u2028}}',
    '{{{{{{a}}}}}}',
    '{ {a}} {{a} } {{a}}',
    'no templates',
    '',
  ])('finds what the regular expression finds in %j', (text) => {
    expect(templateExpressions(text)).toEqual(byRegex(text));
  });

  it('finds the same as the regular expression on random texts of braces, spaces and letters', () => {
    const alphabet = ['{', '}', ' ', 'a', '.', '\t'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let n = 0; n < 2000; n++) {
      const text = Array.from({ length: next() % 24 }, () => alphabet[next() % alphabet.length]).join('');
      expect(templateExpressions(text)).toEqual(byRegex(text));
    }
  });

  it('scans texts the regular expression takes seconds on (no time asserted: the hostile e2e suite compares times)', () => {
    // The regex: 18 s on '{{' and 3,000 spaces.
    expect(templateExpressions('{{' + ' '.repeat(3_000))).toEqual([]);
    expect(templateExpressions('{{'.repeat(3_000))).toEqual([]);
    expect(templateExpressions(('{{' + ' '.repeat(50)).repeat(100) + '}}')).toEqual(['']);
  });
});

describe('definitionLimitIssues', () => {
  const long = 'x'.repeat(DEFINITION_LIMITS.stringLength + 1);

  it('accepts the example of the spec and definitions within the bounds', () => {
    expect(definitionLimitIssues(specExample)).toEqual([]);
    expect(definitionLimitIssues(flow([task('a', { input_schema: { properties: { x: { type: 'string', pattern: '^[a-z]+$' } } } })]))).toEqual([]);
  });

  it('refuses a string, a member name or a task name over its bound, with where', () => {
    expect(definitionLimitIssues(flow([task('a', { prompt: long })]))).toEqual([
      { loc: ['flow_configs', 0, 'config', 'tasks', 0, 'parameters', 'prompt'], msg: expect.stringMatching(/^String is too long/) },
    ]);
    expect(definitionLimitIssues(flow([task('a', { [long]: 1 })]))[0].msg).toMatch(/^Member name is too long/);
    expect(definitionLimitIssues(flow([task('n'.repeat(201))]))).toEqual([
      { loc: ['flow_configs', 0, 'config', 'tasks', 0, 'name'], msg: 'Must be at most 200 characters' },
    ]);
  });

  it('refuses more than 1,000 tasks in all', () => {
    const tasks = (n: number) => Array.from({ length: n }, (_, i) => task(`t${i}`));
    expect(definitionLimitIssues(flow(tasks(600), tasks(400)))).toEqual([]);
    expect(definitionLimitIssues(flow(tasks(600), tasks(401)))).toEqual([{ loc: ['flow_configs'], msg: 'A flow has at most 1000 tasks; this one has 1001' }]);
  });

  it('refuses patterns RE2 cannot run in the schemas the service runs, naming each', () => {
    const definition = flow([
      task('in', { input_schema: { properties: { x: { type: 'string', pattern: '^(?=a)a$' } }, patternProperties: { '(a)\\1': {} } } }),
      task('w', { x: '{{in.o}}', fields: { code: { type: 'string', pattern: '(?<!x)y' } } }, { task_executor_name: 'webhook_receiver' }),
      task('other', { x: '{{in.o}}', input_schema: { pattern: '(?=ignored: not an input task)' } }),
    ]);
    const issues = definitionLimitIssues(definition);
    expect(issues.map((i) => i.loc.join('.')).sort()).toEqual([
      'flow_configs.0.config.tasks.0.parameters.input_schema.patternProperties.(a)\\1',
      'flow_configs.0.config.tasks.0.parameters.input_schema.properties.x.pattern',
      'flow_configs.0.config.tasks.1.parameters.fields.code.pattern',
    ]);
    expect(issues.every((i) => /^Pattern is not supported: .*RE2/.test(i.msg))).toBe(true);
  });

  it('refuses more than 100 patterns, or 10,000 RE2 instructions, in all the schemas of a definition', () => {
    const patterns = (from: number, n: number, pattern = (i: number) => `^id${i}$`) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${from + i}`, { type: 'string', pattern: pattern(from + i) }]));
    const definition = (inSchema: number, inFields: number, pattern?: (i: number) => string) =>
      flow([
        task('in', { input_schema: { properties: patterns(0, inSchema, pattern) } }),
        task('w', { x: '{{in.o}}', fields: patterns(inSchema, inFields, pattern) }, { task_executor_name: 'webhook_receiver' }),
      ]);
    expect(definitionLimitIssues(definition(60, 40))).toEqual([]);
    expect(definitionLimitIssues(definition(60, 41))).toEqual([
      { loc: ['flow_configs', 0, 'config', 'tasks', 1, 'parameters', 'fields', 'p100', 'pattern'], msg: expect.stringMatching(/^Too many patterns/) },
    ]);
    // 101 instructions each: the 100th pattern crosses 10,000 instructions.
    const heavy = (i: number) => `^(a|b)*a(a|b){28}$|^id${String(i).padStart(3, '0')}$`;
    expect(definitionLimitIssues(definition(50, 50, heavy)).map((i) => i.loc.slice(-2).join('.'))).toEqual(['p99.pattern']);
  });

  it('refuses a schema too large or too deep, a pattern too long or too complex, and a $ref into data', () => {
    const at = (schema: object) => definitionLimitIssues(flow([task('a', { input_schema: schema })])).map((i) => `${i.loc.slice(7).join('.')}: ${i.msg}`);
    expect(at({ enum: Array.from({ length: 10_000 }, (_, i) => `value-${i}`) })).toEqual([expect.stringMatching(/^: Schema is too large/)]);
    let deep: object = { type: 'string' };
    for (let i = 0; i < 20; i++) deep = { properties: { x: deep } };
    expect(at(deep)).toEqual([expect.stringMatching(/: Schema is nested too deeply \(more than 32 levels\)$/)]);
    expect(at({ pattern: 'a'.repeat(1001) })).toEqual(['pattern: Pattern is too long (more than 1000 characters)']);
    expect(at({ pattern: '(a|b){999}' })).toEqual([expect.stringMatching(/^pattern: Pattern is too complex \(\d+ RE2 instructions, at most 1000\)$/)]);
    expect(at({ $ref: '#/$defs/x/default', $defs: { x: { default: { anyOf: [] } } } })).toEqual([
      expect.stringMatching(/^\$ref: \$ref must point to a subschema/),
    ]);
    expect(at({ $ref: '#/properties/default', properties: { default: { type: 'string' } } })).toEqual([]);
  });
});
