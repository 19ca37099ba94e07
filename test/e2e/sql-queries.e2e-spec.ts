import { generateQueryFiles, readQueryFiles } from '../../src/database/query-files';
import { withScratchDatabase } from '../../src/database/scratch-database';

/** The SQL reviewers read and EXPLAIN is the SQL the code sends: `npm run sql:queries` rewrites the files after a change. */
describe('src/database/queries', () => {
  it('holds what the repositories send for each @GenerateSql sample (npm run sql:queries writes it)', async () => {
    const generated = await withScratchDatabase(process.env.DATABASE_URL!, generateQueryFiles);
    const checkedIn = readQueryFiles();
    expect(generated.size).toBeGreaterThan(0);
    expect(Object.fromEntries(checkedIn)).toEqual(Object.fromEntries(generated));
  });
});
