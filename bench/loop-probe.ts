import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * A process that does nothing but measure its own event-loop delay, the way the app's /metrics does
 * (prom-client's monitorEventLoopDelay, 10 ms resolution): beside a phase of load, its p99 is what
 * the machine alone does to a loop (other processes holding the cores), the floor under the app's
 * figure. Forked by processes.ts; 'reset' starts a window, 'read' answers its p99 in ms.
 */

export type ProbeCommand = 'reset' | 'read';

if (require.main === module) {
  if (!process.send) throw new Error('loop-probe.js runs as a forked child');
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  process.on('message', (command: ProbeCommand) => {
    if (command === 'reset') {
      histogram.reset();
      process.send!(null);
    } else {
      process.send!(histogram.count > 0 ? histogram.percentile(99) / 1e6 : null);
    }
  });
  process.on('disconnect', () => process.exit(0));
}
