import { FlowAnalysis, Lru } from './flow-analysis';

const definition = (tasks: { name: string; task_executor_name?: string; parameters?: object }[]) => ({
  flow_configs: [{ config: { tasks: tasks.map((t) => ({ task_executor_name: 'receive_file', parameters: {}, ...t })) } }],
});

describe('Lru', () => {
  it('drops the least recently used entry past its limit; a hit makes an entry recent', () => {
    const lru = new Lru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect([lru.get('a'), lru.get('b'), lru.get('c'), lru.size]).toEqual([1, undefined, 3, 2]);
    expect(lru.delete('a')).toBe(true);
    expect(lru.delete('a')).toBe(false);
  });
});

describe('FlowAnalysis', () => {
  const analysis = new FlowAnalysis(
    'flow',
    3,
    definition([
      { name: 'receive', parameters: { input_schema: { type: 'object', required: ['file_key'] } } },
      { name: 'extract', task_executor_name: 'doc_to_structured', parameters: { url: '{{receive.document_url}}' } },
      { name: 'review', task_executor_name: 'human_review', parameters: { data: '{{extract.output}}' } },
    ]),
  );

  it('knows its tasks, input tasks, order and what is downstream of a task', () => {
    expect(analysis.tasks.map((t) => t.name)).toEqual(['receive', 'extract', 'review']);
    expect(analysis.inputTasks.map((t) => t.name)).toEqual(['receive']);
    expect([analysis.has('extract'), analysis.has('nope'), analysis.task('review')?.task_executor_name]).toEqual([true, false, 'human_review']);
    expect(analysis.orderedTaskNames).toEqual(['receive', 'extract', 'review']);
    expect(analysis.downstream('extract')).toEqual(['review']);
  });

  it('compiles a schema once per key', () => {
    const schema = analysis.task('receive')!.parameters.input_schema as object;
    const validate = analysis.schema('receive:input', schema).validator;
    expect(analysis.schema('receive:input', schema).validator).toBe(validate);
    expect(analysis.schema('receive:input', schema).onWorker).toBe(false);
    expect(validate({})).toHaveLength(1);
    expect(validate({ file_key: 'a.pdf' })).toHaveLength(0);
  });
});
