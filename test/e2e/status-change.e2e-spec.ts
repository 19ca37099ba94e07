import { Client } from 'pg';
import { withScratchDatabase } from '../../src/database/scratch-database';
import { ACTIVE_STATUSES, EXECUTION_STATUSES, ExecutionStatus } from '../../src/flow-executions/execution-status';
import { CAUSES, decide, Decision, RULES } from '../../src/flow-executions/transitions';

/**
 * PATCH, cancel and delete decide in SQL (change_flow_execution_status), on the cause's rule passed
 * from the transition table: flow_execution_decision must answer what `decide` answers, for every
 * cause, status, slot and asked status.
 */
describe('the transition table read in SQL', () => {
  it('flow_execution_decision answers as decide() for every cause, status, free slot or not, and asked status', async () => {
    const mismatches = await withScratchDatabase(process.env.DATABASE_URL!, async (url) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        const cases = CAUSES.filter((cause) => cause !== 'create').flatMap((cause) =>
          EXECUTION_STATUSES.flatMap((from) =>
            [true, false].flatMap((slotFree) =>
              (cause === 'patch' ? EXECUTION_STATUSES : [undefined]).map((asked) => ({ cause, from, slotFree, asked: asked as ExecutionStatus | undefined })),
            ),
          ),
        );
        const { rows } = await client.query<{ n: number; kind: string; to_status: string | null; refusal: string | null }>(
          `SELECT c.n, d.kind, d.to_status, d.refusal
             FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS c (value, n),
                  LATERAL flow_execution_decision(c.value -> 'rule', c.value ->> 'from', (c.value ->> 'slotFree')::boolean, c.value ->> 'asked', $2) d
            ORDER BY c.n`,
          [JSON.stringify(cases.map((c) => ({ rule: RULES[c.cause], from: c.from, slotFree: c.slotFree, asked: c.asked ?? null }))), ACTIVE_STATUSES],
        );
        expect(rows).toHaveLength(cases.length);
        return cases.flatMap((c, i) => {
          const expected = decide(c.cause, c.from, c.slotFree, c.asked);
          const row = rows[i];
          const got: Decision =
            row.kind === 'move'
              ? { kind: 'move', to: row.to_status as ExecutionStatus }
              : row.kind === 'refused'
                ? { kind: 'refused', reason: row.refusal as 'transition' | 'no_slot', to: row.to_status as ExecutionStatus | null }
                : { kind: 'unchanged' };
          return JSON.stringify(got) === JSON.stringify(expected) ? [] : [{ ...c, expected, got }];
        });
      } finally {
        await client.end();
      }
    });
    expect(mismatches).toEqual([]);
  });
});
