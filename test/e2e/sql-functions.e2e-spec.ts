import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { withScratchDatabase } from '../../src/database/scratch-database';

const DATABASE = join(__dirname, '..', '..', 'src', 'database');
const SQL_DIR = join(DATABASE, 'sql');

const readSqlFiles = (dir: string): Map<string, string> =>
  new Map(
    readdirSync(dir)
      .filter((name) => name.endsWith('.sql'))
      .sort()
      .map((name) => [name, readFileSync(join(dir, name), 'utf8')]),
  );

/** Every function and trigger of the public schema (not an extension's), by name, with its definition as PostgreSQL prints it. */
async function catalog(client: Client): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; definition: string }>(
    `SELECT format('function %s(%s)', p.proname, pg_get_function_identity_arguments(p.oid)) AS name, pg_get_functiondef(p.oid) AS definition
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
     UNION ALL
     SELECT format('trigger %s on %s', t.tgname, c.relname), pg_get_triggerdef(t.oid)
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND NOT t.tgisinternal
      ORDER BY 1`,
  );
  return new Map(rows.map((row) => [row.name, normalise(row.definition)]));
}

/** Indentation, trailing spaces and blank lines do not count; everything else in a body does. */
const normalise = (definition: string): string =>
  definition
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join('\n');

/**
 * What PostgreSQL makes of the files: in a transaction rolled back afterwards, every function and
 * trigger is dropped and the files are run, each alone, so that what each defines is known.
 */
async function fromFiles(client: Client, files: Map<string, string>): Promise<{ definitions: Map<string, string>; definedBy: Map<string, string[]> }> {
  await client.query('BEGIN');
  try {
    // Bodies refer to one another by name; the files may then run in any order.
    await client.query('SET LOCAL check_function_bodies = off');
    const { rows } = await client.query<{ drop: string }>(
      `SELECT format('DROP TRIGGER %I ON %I', t.tgname, c.relname) AS drop
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal
       UNION ALL
       SELECT format('DROP FUNCTION %s', p.oid::regprocedure)
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`,
    );
    for (const { drop } of rows) await client.query(drop);
    const definedBy = new Map<string, string[]>();
    let before = new Set<string>();
    for (const [file, text] of files) {
      await client.query(text);
      const after = new Set((await catalog(client)).keys());
      definedBy.set(
        file,
        [...after].filter((name) => !before.has(name)),
      );
      before = after;
    }
    return { definitions: await catalog(client), definedBy };
  } finally {
    await client.query('ROLLBACK');
  }
}

/** One line per difference: what only one side holds, and the first line where a definition departs. */
function differences(database: Map<string, string>, files: Map<string, string>): string[] {
  const found: string[] = [];
  for (const name of new Set([...database.keys(), ...files.keys()])) {
    const [held, written] = [database.get(name), files.get(name)];
    if (written === undefined) found.push(`${name}: in the migrated database, in no file of src/database/sql`);
    else if (held === undefined) found.push(`${name}: in src/database/sql, not in the migrated database`);
    else if (held !== written) {
      const [a, b] = [held.split('\n'), written.split('\n')];
      const line = a.findIndex((text, i) => text !== b[i]);
      const at = line === -1 ? a.length : line;
      found.push(`${name}: differs at line ${at + 1}\n  migrated: ${a[at] ?? '(end)'}\n  file:     ${b[at] ?? '(end)'}`);
    }
  }
  return found;
}

/**
 * src/database/sql holds the current text of every function and trigger, once; migrations keep their
 * own frozen copies. A change to a function is a change to its file and a new migration that copies it.
 */
describe('SQL functions and triggers', () => {
  const files = readSqlFiles(SQL_DIR);
  let migrated: Map<string, string>;
  let written: Awaited<ReturnType<typeof fromFiles>>;
  let drifted: Map<string, string>;

  beforeAll(async () => {
    // A body changed in its file only: the comparison must see it.
    const changed = new Map(files);
    changed.set('append_flow_events.sql', files.get('append_flow_events.sql')!.replace(`|| ' ' ||`, `|| '  ' ||`));
    [migrated, written, drifted] = await withScratchDatabase(process.env.DATABASE_URL!, async (url) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return [await catalog(client), await fromFiles(client, files), (await fromFiles(client, changed)).definitions] as const;
      } finally {
        await client.end();
      }
    });
  });

  it('the migrated database holds exactly what src/database/sql defines', () => {
    expect([...migrated.keys()]).toContain('function append_flow_events(p_organization_id uuid, p_events jsonb, p_touched text[])');
    expect(differences(migrated, written.definitions)).toEqual([]);
  });

  it('sees a file that departs, even by a space inside a string', () => {
    expect(differences(written.definitions, drifted)).toEqual([expect.stringMatching(/^function append_flow_events\(.*\): differs at line \d+\n/)]);
  });

  it('defines each function once, in the file named after it, with the triggers that run it', () => {
    for (const [file, names] of written.definedBy) {
      const fn = file.replace(/\.sql$/, '');
      expect({ file, functions: names.filter((name) => name.startsWith('function ')).map((name) => name.replace(/\(.*/, '')) }).toEqual({
        file,
        functions: [`function ${fn}`],
      });
      for (const trigger of names.filter((name) => name.startsWith('trigger '))) {
        expect({ file, trigger, executes: written.definitions.get(trigger)!.match(/EXECUTE FUNCTION (\w+)\(/)?.[1] }).toEqual({ file, trigger, executes: fn });
      }
      const definitions = [...files.values()].join('\n').match(new RegExp(`CREATE OR REPLACE FUNCTION ${fn}\\(`, 'g'));
      expect({ fn, definitions: definitions?.length }).toEqual({ fn, definitions: 1 });
    }
  });

  it('names the migration that holds the current copy, and that migration creates it', () => {
    for (const [file, text] of files) {
      const migration = text.match(/Since (\d+-\w+)\./)?.[1];
      expect({ file, migration }).toEqual({ file, migration: expect.any(String) });
      const path = join(DATABASE, 'migrations', `${migration}.ts`);
      expect({ file, exists: existsSync(path) }).toEqual({ file, exists: true });
      expect(readFileSync(path, 'utf8')).toContain(`FUNCTION ${file.replace(/\.sql$/, '')}(`);
    }
  });
});
