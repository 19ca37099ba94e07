import { MigrationInterface, QueryRunner } from 'typeorm';

export class WebhookSecretHygiene1765200000010 implements MigrationInterface {
  name = 'WebhookSecretHygiene1765200000010';

  async up(q: QueryRunner): Promise<void> {
    // Kept answers of a retried POST /api/webhooks held the signing secret: keep its digest instead (WebhookSecretCodec).
    await q.query(`
      UPDATE idempotency_keys
         SET response_body = (response_body - 'secret')
                             || jsonb_build_object('secret_sha256', encode(sha256(convert_to(response_body ->> 'secret', 'UTF8')), 'hex'))
       WHERE operation = 'POST /api/webhooks' AND jsonb_typeof(response_body) = 'object' AND response_body ? 'secret'`);
    // Previous secrets are forgotten once their grace period ends (WebhooksService.clearExpiredSecrets), found by this index.
    await q.query(`UPDATE webhooks SET previous_secret = NULL, previous_secret_expires_at = NULL WHERE previous_secret_expires_at <= now()`);
    await q.query(`CREATE INDEX IF NOT EXISTS webhooks_previous_secret_expires_idx ON webhooks (previous_secret_expires_at) WHERE previous_secret IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    // The secrets removed from kept answers and the expired previous secrets are gone for good.
    await q.query(`DROP INDEX webhooks_previous_secret_expires_idx`);
  }
}
