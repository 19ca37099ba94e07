import { MigrationInterface, QueryRunner } from 'typeorm';

export class WebhookFairness1765900000000 implements MigrationInterface {
  name = 'WebhookFairness1765900000000';

  async up(q: QueryRunner): Promise<void> {
    // What a pending delivery must send, copied from its event when retention removes the event (EventLogRepository.purgeOlderThan).
    await q.query(`ALTER TABLE webhook_deliveries ADD COLUMN event jsonb`);
    // The purge finds the pending deliveries of the events it removes by this index.
    await q.query(`CREATE INDEX webhook_deliveries_pending_event_idx ON webhook_deliveries (event_id) WHERE status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX webhook_deliveries_pending_event_idx`);
    await q.query(`ALTER TABLE webhook_deliveries DROP COLUMN event`);
  }
}
