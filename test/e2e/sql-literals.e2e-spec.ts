import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ISO_TIMESTAMP_FORMAT } from '../../src/database/sql-literals';
import { CHANGES_CHANNEL, CREDENTIALS_CHANNEL, DELIVERIES_CHANNEL, EVENT_TYPES } from '../../src/events/event-types';
import { ACTIVE_STATUSES, EXECUTION_STATUSES, TERMINAL_STATUSES } from '../../src/flow-executions/execution-status';

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
  const all = <T>(pattern: RegExp, pick: (m: RegExpMatchArray) => T) => texts.flatMap(({ file, text }) => [...text.matchAll(pattern)].map((m) => ({ file, value: pick(m) })));
  const literals = (list: string) => [...list.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]);

  it('lists of execution statuses are ACTIVE_STATUSES or TERMINAL_STATUSES', () => {
    const lists = all(/\bstatus\s+IN\s*\(\s*('(?:[^)]*)')\s*\)/gi, (m) => literals(m[1]));
    const named = new Map([
      [JSON.stringify(ACTIVE_STATUSES), 'ACTIVE_STATUSES'],
      [JSON.stringify(TERMINAL_STATUSES), 'TERMINAL_STATUSES'],
    ]);
    expect(new Set(lists.map((l) => named.get(JSON.stringify(l.value))))).toEqual(new Set(named.values()));
    for (const list of lists) expect({ ...list, named: named.has(JSON.stringify(list.value)) }).toEqual({ ...list, named: true });
  });

  it('single execution statuses compared in SQL are statuses', () => {
    const found = all(/\b(?:NEW|OLD|fe)\.status\s*(?:=|<>)\s*'([^']*)'|THEN '([a-z_]+)' ELSE '([a-z_]+)' END/g, (m) => [m[1], m[2], m[3]].filter(Boolean)).flatMap(({ file, value }) =>
      value.map((status) => ({ file, status })),
    );
    expect(found.length).toBeGreaterThan(0);
    for (const { file, status } of found) expect({ file, status, known: (EXECUTION_STATUSES as readonly string[]).includes(status) }).toEqual({ file, status, known: true });
  });

  it('timestamps are formatted with ISO_TIMESTAMP_FORMAT', () => {
    const formats = all(/\bto_char\([^,]+,\s*'((?:[^']|'')*)'\)/g, (m) => m[1]);
    expect(formats.length).toBeGreaterThan(0);
    for (const format of formats) expect(format).toEqual({ file: format.file, value: ISO_TIMESTAMP_FORMAT });
  });

  it('notifications go to the channels event-types.ts names, and each of those is notified', () => {
    const channels = all(/\bpg_notify\(\s*'([^']*)'/g, (m) => m[1]);
    const known = [CHANGES_CHANNEL, CREDENTIALS_CHANNEL, DELIVERIES_CHANNEL];
    for (const channel of channels) expect({ ...channel, known: known.includes(channel.value) }).toEqual({ ...channel, known: true });
    expect(new Set(channels.map((c) => c.value))).toEqual(new Set(known));
  });

  it('event types written in SQL are EVENT_TYPES', () => {
    const types = all(/'((?:flow|task)_execution\.[a-z_]+)'/g, (m) => m[1]);
    expect(types.length).toBeGreaterThan(0);
    for (const type of types) expect({ ...type, known: (EVENT_TYPES as readonly string[]).includes(type.value) }).toEqual({ ...type, known: true });
  });
});
