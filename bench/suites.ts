import { loadavg } from 'node:os';
import { assertRunning, suite, Suite } from './context';
import { benchBulk, bulkMarkdown, BulkBenchResults } from './bulk';
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

/** `--only stats` and `--only bulk`: run statistics on a flow of 100,000 runs; a bulk cancel beside GET traffic (bench/bulk.ts). */
const bulkSuites = (['stats', 'bulk'] as const).map((name) =>
  suite({
    name,
    run: async (ctx) => {
      const result = await benchBulk({
        url: ctx.app.url,
        databaseUrl: ctx.database.url,
        jwtSecret: ctx.jwtSecret,
        fixture: ctx.fixture,
        only: [name],
        log: ctx.log,
      });
      assertRunning(ctx.app);
      return result;
    },
    markdown: (result: BulkBenchResults) => bulkMarkdown(result),
  }),
);

/**
 * The `--only` names beside the scenario keys of bench/scenarios.ts, run in this order after the
 * scenarios (all of them without `--only`). A new one is a `Suite` (bench/context.ts) and a line here.
 */
export const SUITES: Suite[] = [watchSuite, noisySuite, hostileSuite, otelSuite, writesSuite, livenessSuite, ...bulkSuites];
