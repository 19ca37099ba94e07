import { loadavg } from 'node:os';
import { assertRunning, suite, Suite } from './context';
import { benchHostile, hostileMarkdown, HostileRow } from './hostile';
import { livenessSuite } from './liveness';
import { noisySuite } from './noisy';
import { otelSuite } from './tracing';
import { watchSuite } from './watch';
import { writesSuite } from './writes';

/** `--only hostile`: every operation at its worst valid input (bench/hostile.ts). */
const hostileSuite = suite({
  name: 'hostile',
  run: async (ctx) => {
    const rows = await benchHostile({ url: ctx.app.url, jwtSecret: ctx.jwtSecret, fixture: ctx.fixture, log: ctx.log });
    assertRunning(ctx.app);
    return rows;
  },
  markdown: (rows: HostileRow[]) =>
    hostileMarkdown(
      rows,
      loadavg()
        .map((l) => l.toFixed(2))
        .join(', '),
    ),
});

/**
 * The `--only` names beside the scenario keys of bench/scenarios.ts, run in this order after the
 * scenarios (all of them without `--only`). A new one is a `Suite` (bench/context.ts) and a line here.
 */
export const SUITES: Suite[] = [watchSuite, noisySuite, hostileSuite, otelSuite, writesSuite, livenessSuite];
