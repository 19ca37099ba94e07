import { loadConfig } from './app-config';

const base = { JWT_SECRET: 'x'.repeat(32) };

describe('loadConfig: fair admission', () => {
  it('follows the event loop past 90% by default; 0 keeps the budget fixed', () => {
    expect(loadConfig(base).admission).toMatchObject({ concurrency: 32, organizationConcurrency: 16, loopUtilization: 0.9 });
    expect(loadConfig({ ...base, ADMISSION_LOOP_UTILIZATION: '0' }).admission?.loopUtilization).toBe(0);
    expect(loadConfig({ ...base, ADMISSION_LOOP_UTILIZATION: '0.75' }).admission?.loopUtilization).toBe(0.75);
  });

  it('names a utilization outside 0..1 in its message', () => {
    for (const raw of ['1.5', '-0.1', 'busy']) {
      expect(() => loadConfig({ ...base, ADMISSION_LOOP_UTILIZATION: raw })).toThrow(`ADMISSION_LOOP_UTILIZATION must be a number from 0 to 1, got "${raw}"`);
    }
  });
});
