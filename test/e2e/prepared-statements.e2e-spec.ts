import { driverPool } from '../../src/database/driver-pool';
import { createExecution, createFlow } from '../factories/flows';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';

/** The named statements prepared on every connection of the app's pool (each client checked out at once). */
async function preparedNames(t: TestApp): Promise<string[]> {
  const pool = driverPool(t.dataSource);
  const clients = await Promise.all(Array.from({ length: pool.totalCount }, () => pool.connect()));
  try {
    const results = await Promise.all(clients.map((c) => c.query<{ name: string }>('SELECT name FROM pg_prepared_statements')));
    return results.flatMap((r) => r.rows.map((row) => row.name));
  } finally {
    clients.forEach((c) => c.release());
  }
}

describe('DB_PREPARED_STATEMENTS', () => {
  const exercise = async (t: TestApp) => {
    const { auth } = await newOrg();
    const flowId = await createFlow(t, auth);
    const execution = await createExecution(t, auth, flowId);
    // A create with an Idempotency-Key: the claim, and the create that keeps the key's outcome.
    await t.http().post('/api/flow-executions').set(auth()).set('Idempotency-Key', 'prepared').send({ flow_id: flowId, input: {} }).expect(201);
    await Promise.all([1, 2, 3, 4].map(() => t.http().get(`/api/flow-executions/${execution.id}`).set(auth()).expect(200)));
    await t.http().get(`/api/flow-executions/${execution.id}?include_credits=true`).set(auth()).expect(200);
  };

  it('prepares the hot-path statements by name by default', async () => {
    const t = await createTestApp({ DB_POOL_SIZE: '2' });
    try {
      await exercise(t);
      expect(await preparedNames(t)).toEqual(
        expect.arrayContaining([
          'flow_execution_by_id',
          'flow_execution_by_id_with_credits',
          'executable_flow_by_id',
          'idempotency_claim',
          'start_flow_execution_keeping',
        ]),
      );
    } finally {
      await t.close();
    }
  });

  it('sends them unnamed when false, as a transaction-mode PgBouncer needs', async () => {
    const t = await createTestApp({ DB_POOL_SIZE: '2', DB_PREPARED_STATEMENTS: 'false' });
    try {
      await exercise(t);
      expect(driverPool(t.dataSource).totalCount).toBeGreaterThan(0);
      expect(await preparedNames(t)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
