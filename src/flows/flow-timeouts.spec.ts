import { loadConfig } from '../config/app-config';
import { MAX_TIMEOUT_SECONDS, normalizeTimeouts, taskTimeoutIssues } from './flow-timeouts';

const ROOT = ['body', 'settings', 'timeouts', 'tasks'];

describe('settings.timeouts', () => {
  describe('taskTimeoutIssues', () => {
    it('accepts tasks of the flow with whole seconds in range, and nothing at all', () => {
      expect(taskTimeoutIssues({ extract: { heartbeat_seconds: 30, seconds: MAX_TIMEOUT_SECONDS }, review: {} }, ['extract', 'review'], ROOT)).toEqual([]);
      expect(taskTimeoutIssues(undefined, [], ROOT)).toEqual([]);
      expect(taskTimeoutIssues(null, [], ROOT)).toEqual([]);
      expect(taskTimeoutIssues({ extract: { seconds: null } }, ['extract'], ROOT)).toEqual([]);
    });

    it('names each field that is wrong', () => {
      const issues = taskTimeoutIssues(
        { ghost: { seconds: 1 }, extract: { heartbeat_seconds: 0, seconds: 1.5 }, review: 'soon', __proto__x: 1 },
        ['extract', 'review'],
        ROOT,
      );
      expect(issues.map((i) => [i.loc.slice(4).join('.'), i.type])).toEqual([
        ['ghost', 'unknown_task'],
        ['extract.heartbeat_seconds', 'int_range'],
        ['extract.seconds', 'int_range'],
        ['review', 'object_type'],
        ['__proto__x', 'unknown_task'],
      ]);
      expect(taskTimeoutIssues([], ['extract'], ROOT)).toEqual([expect.objectContaining({ loc: ROOT, type: 'object_type' })]);
      expect(taskTimeoutIssues({ extract: { seconds: MAX_TIMEOUT_SECONDS + 1 } }, ['extract'], ROOT)).toHaveLength(1);
    });

    it('reports a bounded number of issues', () => {
      const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`t${i}`, {}]));
      expect(taskTimeoutIssues(many, [], ROOT)).toHaveLength(20);
    });
  });

  describe('normalizeTimeouts', () => {
    it('fills every field, drops what is not a timeout, and keeps a task named __proto__ as a key', () => {
      const tasks = JSON.parse('{"__proto__": {"seconds": 5}, "extract": {"heartbeat_seconds": 3, "other": 1}, "bad": 7}');
      const normalized = normalizeTimeouts({ execution_seconds: 60, task_seconds: 'x', unknown: 1, tasks });
      expect(normalized).toEqual({
        execution_seconds: 60,
        task_heartbeat_seconds: null,
        task_seconds: null,
        cancel_seconds: null,
        awaiting_input_seconds: null,
        tasks: JSON.parse('{"__proto__": {"heartbeat_seconds": null, "seconds": 5}, "extract": {"heartbeat_seconds": 3, "seconds": null}}'),
      });
      expect(Object.getPrototypeOf(normalized.tasks)).toBe(Object.prototype);
      expect(normalizeTimeouts(null)).toMatchObject({ execution_seconds: null, tasks: {} });
    });
  });

  it('LIVENESS_SWEEP_INTERVAL_MS defaults to 1000 and is validated at boot', () => {
    const env = { JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig(env).livenessSweepIntervalMs).toBe(1000);
    expect(loadConfig({ ...env, LIVENESS_SWEEP_INTERVAL_MS: '50' }).livenessSweepIntervalMs).toBe(50);
    for (const bad of ['0', '5', '1.5', 'soon', '600001']) {
      expect(() => loadConfig({ ...env, LIVENESS_SWEEP_INTERVAL_MS: bad })).toThrow(/LIVENESS_SWEEP_INTERVAL_MS must be an integer from 10 to 600000/);
    }
  });
});
