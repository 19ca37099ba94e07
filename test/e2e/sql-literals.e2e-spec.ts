import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ISO_DATE_FORMAT, ISO_MILLIS_FORMAT, ISO_TIMESTAMP_FORMAT } from '../../src/database/sql-literals';
import { CREDENTIALS_CHANNEL } from '../../src/common/auth/credential-changes';
import { CHANGES_CHANNEL, EVENT_TYPES } from '../../src/event-log/event-types';
import { ACTIVE_STATUSES, EXECUTION_STATUSES, TERMINAL_STATUSES } from '../../src/flow-executions/execution-status';
import { CAUSES, RULES, sources } from '../../src/flow-executions/transitions';
import { DELIVERIES_CHANNEL } from '../../src/webhooks/webhooks.repository';
import { FLOW_CHANGES_CHANNEL } from '../../src/flows/flow-analysis';

const DATABASE = join(__dirname, '..', '..', 'src', 'database');

/** The SQL files' text without `--` comments (none of them has `--` inside a string). */
const sqlTexts = (dir: string) =>
  readdirSync(join(DATABASE, dir))
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => ({ file: `${dir}/${name}`, text: readFileSync(join(DATABASE, dir, name), 'utf8').replace(/--[^\n]*/g, '') }));

/** The functions (src/database/sql) and the queries (src/database/queries) restate names and lists that TypeScript owns; these tests hold the two equal. */
describe('literals in SQL', () => {
  const texts = [...sqlTexts('sql'), ...sqlTexts('queries')];
  const all = <T>(pattern: RegExp, pick: (m: RegExpMatchArray) => T) =>
    texts.flatMap(({ file, text }) => [...text.matchAll(pattern)].map((m) => ({ file, value: pick(m) })));
  const literals = (list: string) => [...list.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]);

  it('lists of execution statuses are ACTIVE_STATUSES, TERMINAL_STATUSES or the sources of a move in the transition table', () => {
    // Bulk actions' own statuses (queued, running, …) are not a run's.
    const lists = all(/\bstatus\s+IN\s*\(\s*('(?:[^)]*)')\s*\)/gi, (m) => literals(m[1]));
    const constants = new Map([
      [JSON.stringify(ACTIVE_STATUSES), 'ACTIVE_STATUSES'],
      [JSON.stringify(TERMINAL_STATUSES), 'TERMINAL_STATUSES'],
    ]);
    // The lifecycle's conditional writes take their lists from the table (transitions.ts `sources`).
    const moves = new Map(
      CAUSES.flatMap((cause) => RULES[cause].moves.map((move) => [`sources('${cause}', '${move.to}')`, sources(cause, move.to)] as const))
        .filter(([, list]) => list.length > 0)
        .map(([name, list]) => [JSON.stringify(list), name]),
    );
    const names = (list: string[]) => [constants.get(JSON.stringify(list)), moves.get(JSON.stringify(list))].filter(Boolean);
    // The functions use both constants; a list that is neither constant nor a move's sources was written by hand.
    expect(new Set(lists.map((l) => constants.get(JSON.stringify(l.value))).filter(Boolean))).toEqual(new Set(constants.values()));
    for (const list of lists.filter((l) => l.file !== 'queries/bulk-actions.repository.sql'))
      expect({ ...list, named: names(list.value).length > 0 }).toEqual({ ...list, named: true });
  });

  it("the lifecycle's lists match the partial indexes their queries walk", () => {
    // findExpired / deleteExpired: flow_executions_flow_terminal_idx and the terminal_at trigger are over TERMINAL_STATUSES.
    expect(sources('retention', 'deleted')).toEqual([...TERMINAL_STATUSES]);
    // promoteWaiting: flow_executions_org_queued_idx is over status = 'queued'.
    expect(sources('admit', 'running')).toEqual(['queued']);
    const queries = texts
      .filter(({ file }) => file === 'queries/flow-executions.repository.sql')
      .map(({ text }) => text)
      .join('\n');
    expect(queries).toContain(`status IN ('queued')`);
    expect(queries).toContain(`status IN (${TERMINAL_STATUSES.map((s) => `'${s}'`).join(', ')})`);
  });

  it('single execution statuses compared in SQL are statuses', () => {
    const found = all(/\b(?:NEW|OLD|fe)\.status\s*(?:=|<>)\s*'([^']*)'|THEN '([a-z_]+)' ELSE '([a-z_]+)' END/g, (m) =>
      [m[1], m[2], m[3]].filter(Boolean),
    ).flatMap(({ file, value }) => value.map((status) => ({ file, status })));
    expect(found.length).toBeGreaterThan(0);
    for (const { file, status } of found)
      expect({ file, status, known: (EXECUTION_STATUSES as readonly string[]).includes(status) }).toEqual({ file, status, known: true });
  });

  it('timestamps are formatted with ISO_TIMESTAMP_FORMAT (or ISO_MILLIS_FORMAT, as toISOString writes them), days with ISO_DATE_FORMAT', () => {
    const formats = all(/\bto_char\([^,]+,\s*'((?:[^']|'')*)'\)/g, (m) => m[1]);
    expect(formats.length).toBeGreaterThan(0);
    for (const format of formats) expect([ISO_TIMESTAMP_FORMAT, ISO_MILLIS_FORMAT, ISO_DATE_FORMAT].includes(format.value) ? null : format).toBeNull();
  });

  it('notifications go to the channels their owners name (event log, auth, webhooks, flow analyses), and each of those is notified', () => {
    const channels = all(/\bpg_notify\(\s*'([^']*)'/g, (m) => m[1]);
    const known = [CHANGES_CHANNEL, CREDENTIALS_CHANNEL, DELIVERIES_CHANNEL, FLOW_CHANGES_CHANNEL];
    for (const channel of channels) expect({ ...channel, known: known.includes(channel.value) }).toEqual({ ...channel, known: true });
    expect(new Set(channels.map((c) => c.value))).toEqual(new Set(known));
  });

  it('event types written in SQL are EVENT_TYPES', () => {
    const types = all(/'((?:flow|task)_execution\.[a-z_]+)'/g, (m) => m[1]);
    expect(types.length).toBeGreaterThan(0);
    for (const type of types) expect({ ...type, known: (EVENT_TYPES as readonly string[]).includes(type.value) }).toEqual({ ...type, known: true });
  });
});
