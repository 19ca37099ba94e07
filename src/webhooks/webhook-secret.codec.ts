import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { Repository } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import { conflict } from '../common/errors/app-error';
import type { IdempotentAnswerCodec } from '../common/idempotency/idempotent-requests';
import type { WebhookWithSecretResponseDto } from './dto/webhook.dto';
import { WebhookEntity } from './webhook.entity';

/** The created webhook's answer as kept for an `Idempotency-Key`: no secret, only its digest. */
type StoredWebhook = Omit<WebhookWithSecretResponseDto, 'secret'> & { secret_sha256?: string };

/** SHA-256 of a secret: tells whether it is still the webhook's, and gives nothing of it away (32 random bytes). */
export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * The signing secret is shown once and never stored with the idempotent answer of
 * `POST /api/webhooks`: a replay puts back the webhook's current secret while it is still the one
 * created, and is refused (409) once it was rotated or the webhook deleted.
 */
@Injectable()
export class WebhookSecretCodec implements IdempotentAnswerCodec {
  constructor(@InjectRepository(WebhookEntity) private readonly webhooks: Repository<WebhookEntity>) {}

  store(body: unknown): StoredWebhook {
    const { secret, ...rest } = body as WebhookWithSecretResponseDto;
    return { ...rest, secret_sha256: secretDigest(secret) };
  }

  async replay(principal: Principal, stored: unknown): Promise<WebhookWithSecretResponseDto> {
    const { secret_sha256: digest, ...answer } = stored as StoredWebhook;
    const webhook = await this.webhooks.findOne({
      select: { id: true, secret: true },
      where: { id: answer.id, organization_id: principal.organizationId },
    });
    if (!webhook) throw conflict('The webhook created with this Idempotency-Key has been deleted since; its answer cannot be replayed');
    if (!digest || secretDigest(webhook.secret) !== digest) {
      throw conflict(
        'The signing secret of the webhook created with this Idempotency-Key was rotated since, and the first one is not kept: ' +
          'use the secret from the rotation, or rotate it again',
      );
    }
    return { ...answer, secret: webhook.secret };
  }
}
