import { unknownTasksError } from './pinned-tasks';

describe('unknown task names: one answer', () => {
  const v1 = { flow_version: 1 };

  it('is a 400 naming each unknown task once, and each item that named one', () => {
    const error = unknownTasksError([
      { run: v1, taskName: 'ghost', at: 'statuses.1.task_name' },
      { run: v1, taskName: 'ghost', at: 'statuses.3.task_name' },
      { run: v1, taskName: 'nope', at: 'statuses.4.task_name' },
    ]);
    expect([error.status, error.code, error.message]).toEqual([400, 'bad_request', 'Unknown task names for flow version 1: ghost, nope']);
    expect(error.details).toEqual([
      "statuses.1.task_name: unknown task 'ghost'",
      "statuses.3.task_name: unknown task 'ghost'",
      "statuses.4.task_name: unknown task 'nope'",
    ]);
  });

  it('says which versions when the runs differ, and speaks of one task in the singular', () => {
    expect(unknownTasksError([{ run: v1, taskName: 'Extract', at: 'task_name' }]).message).toBe('Unknown task name for flow version 1: Extract');
    const twoVersions = unknownTasksError([
      { run: v1, taskName: 'a', at: 'tags.0.task_name' },
      { run: { flow_version: 2 }, taskName: 'b', at: 'tags.1.task_name' },
    ]);
    expect(twoVersions.message).toBe('Unknown task names for flow versions 1, 2: a, b');
  });

  it('is a 404 where the endpoint documents one (webhook data)', () => {
    const error = unknownTasksError([{ run: v1, taskName: 'nope', at: 'task_name' }], 'not_found');
    expect([error.status, error.message, error.details]).toEqual([
      404,
      "Task 'nope' not found in flow version 1 of this flow execution",
      ["task_name: unknown task 'nope'"],
    ]);
  });
});
