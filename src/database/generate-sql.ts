import { SetMetadata } from '@nestjs/common';

export const GENERATE_SQL = 'flows:generate-sql';

/** One call of a repository method, with the parameters given; `name` tells apart several calls of one method. */
export interface SqlSample {
  name?: string;
  params: unknown[];
}

/**
 * Writes the SQL the method sends, once per sample, to `src/database/queries/` (`npm run sql:queries`),
 * where a reviewer can read and `EXPLAIN` it; the e2e suite fails when the files fall behind the code.
 */
export const GenerateSql = (...samples: SqlSample[]): MethodDecorator => SetMetadata(GENERATE_SQL, samples);

/** Sample parameters: fixed, so that the files change only when the SQL does. */
export const DummyValue = {
  UUID: '00000000-0000-4000-a000-000000000000',
  UUID2: '00000000-0000-4000-a000-000000000001',
  DATE: new Date('2024-01-01T00:00:00.000Z'),
  TIMESTAMP: '2024-01-01T00:00:00.000000Z',
  /** Stands for the caller's EntityManager (its transaction); the generator passes its own. */
  MANAGER: Symbol('EntityManager'),
} as const;
