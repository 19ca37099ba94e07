import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Repository } from 'typeorm';
import type { Principal } from '../common/auth/principal';
import { badRequest, conflict, forbidden, notFound } from '../common/errors/app-error';
import { keepOutcome, OwnedKey } from '../common/idempotency/idempotency.context';
import { RequestValidationError } from '../common/validation/validation-error';
import { LOGGER } from '../logging/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { FlowsService } from '../flows/flows.service';
import { ListWebhookDeliveriesQueryDto, WebhookDeliveriesPageDto, WebhookRedeliveryDto } from './dto/webhook-delivery.dto';
import {
  CreateWebhookDto,
  toWebhookResponse,
  toWebhookWithSecret,
  UpdateWebhookDto,
  WebhookResponseDto,
  WebhookWithSecretResponseDto,
} from './dto/webhook.dto';
import { urlRefusal } from './url-guard';
import { WebhookEntity } from './webhook.entity';
import { WebhooksRepository } from './webhooks.repository';

const SECRET_PREFIX = 'whsec_';
const ROTATION_GRACE_MS = 24 * 3_600_000;
const ORDER = { created_at: 'ASC', id: 'ASC' } as const;
const SECRET_SWEEP_INTERVAL_MS = 60_000;
const SECRET_SWEEP_BATCH = 1_000;

/** `whsec_` + base64 of 32 random bytes: the Standard Webhooks form, which its libraries verify with. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

@Injectable()
export class WebhooksService implements OnApplicationBootstrap, OnApplicationShutdown {
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    @InjectRepository(WebhookEntity) private readonly webhooks: Repository<WebhookEntity>,
    private readonly repository: WebhooksRepository,
    private readonly flows: FlowsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Every replica, worker or not, forgets previous secrets once their 24 hours end. */
  onApplicationBootstrap(): void {
    const sweep = () => this.clearExpiredSecrets().catch((err: unknown) => this.logger.warn({ err }, 'webhook secret sweep failed'));
    this.sweepTimer = setInterval(sweep, SECRET_SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  /** Clears, in the database, the previous secrets past their grace period; answers how many. */
  async clearExpiredSecrets(): Promise<number> {
    let total = 0;
    for (let cleared = SECRET_SWEEP_BATCH; cleared === SECRET_SWEEP_BATCH; total += cleared) {
      cleared = await this.repository.clearExpiredSecrets(SECRET_SWEEP_BATCH);
    }
    return total;
  }

  async create(principal: Principal, dto: CreateWebhookDto, key?: OwnedKey): Promise<WebhookWithSecretResponseDto> {
    await this.checkTarget(principal, dto.url, dto.flow_id);
    const secret = newWebhookSecret();
    const cap = this.config.webhooks.perOrganization;
    // The `Idempotency-Key`'s outcome commits with the webhook (its secret left out by WebhookSecretCodec).
    return this.webhooks.manager.transaction(async (m) => {
      const count = await this.repository.lockedCount(m, principal.organizationId);
      if (count >= cap) {
        // docs/api.md#webhooks: a cap per organization, WEBHOOKS_PER_ORG.
        throw new RequestValidationError([
          {
            loc: ['body'],
            msg: `The organization has ${count} webhooks, the most it may register (${cap}); delete one first`,
            type: 'too_many_webhooks',
            input: null,
          },
        ]);
      }
      const webhook = await m.save(
        this.webhooks.create({
          organization_id: principal.organizationId,
          url: dto.url,
          event_types: dto.event_types ?? null,
          flow_id: dto.flow_id?.toLowerCase() ?? null,
          description: dto.description ?? null,
          status: 'enabled',
          disabled_reason: null,
          secret,
          previous_secret: null,
          previous_secret_expires_at: null,
          consecutive_failures: 0,
          failing_since: null,
          modified_by: principal.subject,
        }),
      );
      const answer = toWebhookWithSecret(webhook, secret);
      await keepOutcome(m, key, answer);
      return answer;
    });
  }

  async list(principal: Principal): Promise<WebhookResponseDto[]> {
    const webhooks = await this.webhooks.find({ where: { organization_id: principal.organizationId }, order: ORDER });
    return webhooks.map(toWebhookResponse);
  }

  async get(principal: Principal, id: string): Promise<WebhookResponseDto> {
    return toWebhookResponse(await this.findAccessible(principal, id));
  }

  /** Disabling fails the pending deliveries; enabling clears the failure count and delivers new events. */
  async update(principal: Principal, id: string, dto: UpdateWebhookDto): Promise<WebhookResponseDto> {
    const webhook = await this.findAccessible(principal, id);
    await this.checkTarget(principal, dto.url, dto.flow_id ?? undefined);
    const changes: Partial<WebhookEntity> = { modified_by: principal.subject };
    if (dto.url !== undefined) changes.url = dto.url;
    if (dto.event_types !== undefined) changes.event_types = dto.event_types;
    if (dto.flow_id !== undefined) changes.flow_id = dto.flow_id?.toLowerCase() ?? null;
    if (dto.description !== undefined) changes.description = dto.description;
    if (dto.status === 'enabled' && webhook.status !== 'enabled') {
      Object.assign(changes, { status: 'enabled', disabled_reason: null, consecutive_failures: 0, failing_since: null });
    } else if (dto.status === 'disabled' && webhook.status !== 'disabled') {
      Object.assign(changes, { status: 'disabled', disabled_reason: `disabled by ${principal.subject}` });
    }
    await this.webhooks.manager.transaction(async (m) => {
      await m.update(WebhookEntity, { id, organization_id: principal.organizationId }, changes);
      if (changes.status === 'disabled') await this.repository.failPending(m, id);
    });
    return this.get(principal, id);
  }

  /** Deleting removes the pending deliveries with it (and the log): nothing more is sent. */
  async remove(principal: Principal, id: string): Promise<void> {
    await this.findAccessible(principal, id);
    await this.webhooks.delete({ id, organization_id: principal.organizationId });
  }

  /** A new secret, shown once; the previous one still signs (beside it) for 24 hours. */
  async rotateSecret(principal: Principal, id: string): Promise<WebhookWithSecretResponseDto> {
    await this.findAccessible(principal, id);
    const secret = newWebhookSecret();
    await this.webhooks.query(
      `UPDATE webhooks
          SET previous_secret = secret, previous_secret_expires_at = now() + $4 * interval '1 millisecond',
              secret = $3, modified_by = $5, updated_at = now()
        WHERE id = $1 AND organization_id = $2`,
      [id, principal.organizationId, secret, ROTATION_GRACE_MS, principal.subject],
    );
    return toWebhookWithSecret(await this.findAccessible(principal, id), secret);
  }

  async deliveries(principal: Principal, id: string, query: ListWebhookDeliveriesQueryDto): Promise<WebhookDeliveriesPageDto> {
    const limit = query.limit ?? 50;
    const page = await this.repository.attempts(id, { status: query.status, before: query.after, limit });
    this.checkAccess(principal, page.organizationId);
    const deliveries = page.rows.map((row) => ({
      ...row,
      attempted_at: row.attempted_at.toISOString(),
      next_attempt_at: row.next_attempt_at?.toISOString() ?? null,
    }));
    return { deliveries, next_cursor: deliveries.length === limit ? deliveries[deliveries.length - 1].id : null };
  }

  /** Sends the delivery's event again as a new message (same `webhook-id`), now. */
  async redeliver(principal: Principal, id: string, deliveryId: string): Promise<WebhookRedeliveryDto> {
    const webhook = await this.findAccessible(principal, id);
    if (webhook.status !== 'enabled') throw conflict('The webhook is disabled; enable it to redeliver');
    const copy = await this.repository.redeliver(id, deliveryId);
    if (!copy) throw notFound('Webhook delivery');
    return { delivery_id: copy.id, event_id: copy.event_id, event_type: copy.event_type, status: copy.status, created_at: copy.created_at.toISOString() };
  }

  /** 400 for a URL that is not http(s) or not public (SSRF); 404/403 for the flow. */
  private async checkTarget(principal: Principal, url: string | undefined, flowId: string | undefined): Promise<void> {
    if (url !== undefined) {
      const refusal = await urlRefusal(url, this.config.webhooks.allowPrivateUrls);
      if (refusal) throw badRequest(refusal);
    }
    if (flowId !== undefined) await this.flows.getExecutable(principal, flowId);
  }

  private async findAccessible(principal: Principal, id: string): Promise<WebhookEntity> {
    const webhook = await this.webhooks.findOneBy({ id });
    this.checkAccess(principal, webhook?.organization_id ?? null);
    return webhook!;
  }

  /** The one place that decides 404 (no such webhook) versus 403 (another organization's). */
  private checkAccess(principal: Principal, organizationId: string | null): void {
    if (organizationId === null) throw notFound('Webhook');
    if (organizationId !== principal.organizationId) throw forbidden();
  }
}
