import { MigrationInterface, QueryRunner } from 'typeorm';

export class CredentialChanges1765100000001 implements MigrationInterface {
  name = 'CredentialChanges1765100000001';

  async up(q: QueryRunner): Promise<void> {
    // Every process caches verified API keys; any write to a key or an account, by any path, tells them all at commit.
    await q.query(`
      CREATE FUNCTION notify_credential_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('credential_changes', TG_TABLE_NAME);
        RETURN NULL;
      END $$`);
    for (const table of ['api_keys', 'service_accounts']) {
      await q.query(
        `CREATE TRIGGER ${table}_credential_change AFTER UPDATE OR DELETE OR TRUNCATE ON ${table}
           FOR EACH STATEMENT EXECUTE FUNCTION notify_credential_change()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER service_accounts_credential_change ON service_accounts`);
    await q.query(`DROP TRIGGER api_keys_credential_change ON api_keys`);
    await q.query(`DROP FUNCTION notify_credential_change()`);
  }
}
