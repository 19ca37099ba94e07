import fc from 'fast-check';
import { copyQuery, decodeBinaryCopy } from '../../src/database/copy-query';
import { driverPool } from '../../src/database/driver-pool';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { eventually } from '../utils/eventually';

/** The text of each column, as `copyQuery` reads it. */
const texts = (rows: Record<string, readonly Buffer[] | null>[]) =>
  rows.map((row) => Object.fromEntries(Object.entries(row).map(([column, bytes]) => [column, bytes && Buffer.concat(bytes).toString()])));

describe('copyQuery: rows read as bytes through COPY', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ DB_POOL_SIZE: '2' });
  });
  afterAll(() => t.close());

  it('reads what a query with bound parameters reads, for any parameter value (its literal is the text pg binds)', async () => {
    const pool = driverPool(t.dataSource);
    const text = fc.string({ unit: 'binary' }).map((s) => s.replace(/\0/g, '')); // PostgreSQL text holds no NUL
    const value = fc.oneof(
      text,
      fc.constantFrom("'", "''", '\\', "\\'", "E'\\x27'", '$1', '$$', '?', '--', '/*'),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.array(text, { maxLength: 4 }),
    );
    const sql = 'SELECT $1::text AS one, $2::text AS two, ($1::text IS NOT DISTINCT FROM $2::text)::text AS same';
    await fc.assert(
      fc.asyncProperty(value, value, async (a, b) => {
        const bound = (await pool.query<Record<string, string | null>>(sql, [a, b])).rows;
        expect(texts(await copyQuery(t.dataSource, sql, [a, b], ['one', 'two', 'same']))).toEqual(bound);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes the output however it is cut into chunks', async () => {
    const sql = `SELECT n::text AS n, CASE WHEN n % 3 = 0 THEN NULL ELSE repeat(chr(224 + n % 20), n * 37) END AS body, '' AS empty FROM generate_series(1, 40) n`;
    const expected = (await driverPool(t.dataSource).query<Record<string, string | null>>(sql)).rows;
    expect(texts(await copyQuery(t.dataSource, sql, [], ['n', 'body', 'empty']))).toEqual(expected);

    // The same output, re-cut at random places: fields and integers that straddle chunks.
    const client = await driverPool(t.dataSource).connect();
    let whole: Buffer;
    try {
      const { to } = await import('pg-copy-streams');
      const chunks: Buffer[] = [];
      for await (const chunk of client.query(to(`COPY (${sql}) TO STDOUT (FORMAT binary)`))) chunks.push(chunk as Buffer);
      whole = Buffer.concat(chunks);
    } finally {
      client.release();
    }
    const rows = (fields: (readonly Buffer[] | null)[][]) => fields.map((row) => row.map((bytes) => bytes && Buffer.concat(bytes).toString()));
    const reference = rows(decodeBinaryCopy([whole]));
    expect(reference).toEqual(expected.map((row) => [row.n, row.body, row.empty]));
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: whole.length - 1 }), { maxLength: 60 }), (cuts) => {
        const at = [0, ...cuts.sort((x, y) => x - y), whole.length];
        const chunks = at.slice(1).map((end, i) => whole.subarray(at[i], end));
        expect(rows(decodeBinaryCopy(chunks))).toEqual(reference);
      }),
      { numRuns: 200 },
    );
    expect(() => decodeBinaryCopy([whole.subarray(0, whole.length - 3)])).toThrow('the output ends early');
    expect(() => decodeBinaryCopy([Buffer.from('n\tbody\n1\tabc\n2\tdef\n')])).toThrow('not the output of COPY');
  });

  it("rejects with PostgreSQL's error, and the connection serves the next statement", async () => {
    const pool = driverPool(t.dataSource);
    await expect(copyQuery(t.dataSource, 'SELECT 1 / $1::int AS x', [0], ['x'])).rejects.toMatchObject({ code: '22012' });
    // A connection lost mid-statement is discarded, not handed to the next caller.
    const lost = copyQuery(t.dataSource, `SELECT pg_sleep(5)::text AS x, 'lost' AS y`, [], ['x', 'y']).then(
      () => null,
      (error: unknown) => error, // held at once: it settles while the backend is being ended
    );
    const ended = await eventually(
      async () =>
        (
          await pool.query<{ ended: boolean }>(
            `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%pg_sleep(5)%' AND pid <> pg_backend_pid()`,
          )
        ).rows,
      (rows) => rows.length > 0,
    );
    expect(ended).toEqual([{ ended: true }]);
    expect(await lost).toMatchObject({ code: '57P01' }); // terminating connection due to administrator command
    // Every connection of the pool (two) still answers, in order.
    const results = await Promise.all([1, 2, 3, 4].map((n) => copyQuery(t.dataSource, 'SELECT $1::int * 2 AS x', [n], ['x'])));
    expect(results.map(texts)).toEqual([1, 2, 3, 4].map((n) => [{ x: String(n * 2) }]));
    expect(pool.totalCount).toBeLessThanOrEqual(2);
  });
});
