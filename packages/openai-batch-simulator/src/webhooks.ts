/**
 * Batch webhooks (reference §4): thin `batch.completed|failed|expired|cancelled` events signed
 * the Standard Webhooks way and POSTed with OpenAI's user-agent; at-least-once delivery, retried
 * with exponential backoff (in simulated time) and, at a configured rate, delivered twice with
 * the same `webhook-id`.
 *
 * `webhook-timestamp` is the real wall-clock time of the attempt: receivers (and the SDK's
 * `webhooks.unwrap`) check it against their own clock with a ±300 s tolerance. The event's
 * `created_at` is the wall-clock time the batch ended (clock.ts), so at any time scale it is at
 * most the delivery's `webhook-timestamp` and, on a first delivery, within seconds of it.
 */
import { createHmac } from 'node:crypto';
import type { SimClock } from './clock.ts';
import { newEventId, newWebhookId } from './ids.ts';
import { roll } from './random.ts';
import type { Scenario } from './scenarios.ts';
import type { StatsTracker } from './stats.ts';

/** OpenAI's webhook user-agent. */
export const WEBHOOK_USER_AGENT = 'OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)';

/** The batch event types. */
export type BatchEventType = 'batch.completed' | 'batch.failed' | 'batch.expired' | 'batch.cancelled';

/** A batch webhook event body. */
export interface BatchWebhookEvent {
  id: string;
  object: 'event';
  type: BatchEventType;
  created_at: number;
  data: { id: string };
}

/** The signing key: base64-decoded secret without `whsec_`, or the UTF-8 bytes of a bare secret. */
function keyOf(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

/**
 * The `webhook-signature` value: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")).
 */
export function signWebhook(secret: string, webhookId: string, timestamp: number | string, body: string): string {
  const mac = createHmac('sha256', keyOf(secret)).update(`${webhookId}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers plus OpenAI's user-agent and content type. */
export function webhookHeaders(secret: string, webhookId: string, timestamp: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': WEBHOOK_USER_AGENT,
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, webhookId, timestamp, body),
  };
}

/** Where and how to deliver. */
export type WebhookConfig = Scenario['webhook'] & { url: string; secret: string };

const MAX_RETRY_WINDOW_SECONDS = 72 * 3600;

/** Delivers events; one per batch end. */
export class WebhookDispatcher {
  private counter = 0;
  private readonly cancels = new Set<() => void>();
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly config: WebhookConfig,
    private readonly clock: SimClock,
    private readonly seed: number,
    private readonly stats: StatsTracker,
    private readonly logger: { warn(...a: unknown[]): void },
  ) {}

  /** Queue an event for `batchId`. */
  send(type: BatchEventType, batchId: string, createdAt: number): void {
    if (this.closed) return;
    const n = this.counter++;
    const event: BatchWebhookEvent = { id: newEventId(), object: 'event', type, created_at: createdAt, data: { id: batchId } };
    const body = JSON.stringify(event);
    const webhookId = newWebhookId();
    const duplicate = this.config.duplicateRate > 0 && roll(this.seed, 'webhook-duplicate', n) < this.config.duplicateRate;
    this.stats.webhooks.events++;
    void this.attempt(webhookId, body, 1, this.clock.now(), duplicate);
  }

  private async attempt(webhookId: string, body: string, n: number, firstAtMs: number, duplicate: boolean): Promise<void> {
    if (this.closed) return;
    this.stats.webhooks.attempts++;
    const ok = await this.post(webhookId, body);
    if (this.closed) return;
    if (ok) {
      this.stats.webhooks.delivered++;
      if (duplicate) {
        this.stats.webhooks.duplicates++;
        this.stats.webhooks.attempts++;
        await this.post(webhookId, body);
      }
      return;
    }
    this.stats.webhooks.failedAttempts++;
    const delayS = this.config.retryBaseSeconds * 2 ** (n - 1);
    const at = this.clock.now() + delayS * 1000;
    if (n >= this.config.maxAttempts || at - firstAtMs > MAX_RETRY_WINDOW_SECONDS * 1000) {
      this.stats.webhooks.gaveUp++;
      this.logger.warn('simulator: webhook delivery gave up', { webhookId, attempts: n });
      return;
    }
    const cancel = this.clock.at(at, () => {
      this.cancels.delete(cancel);
      void this.attempt(webhookId, body, n + 1, firstAtMs, duplicate);
    });
    this.cancels.add(cancel);
  }

  private async post(webhookId: string, body: string): Promise<boolean> {
    const ac = new AbortController();
    this.inflight.add(ac);
    const timer = setTimeout(() => ac.abort(), this.config.timeoutMs);
    try {
      const timestamp = Math.floor(Date.now() / 1000);
      const res = await fetch(this.config.url, {
        method: 'POST',
        headers: webhookHeaders(this.config.secret, webhookId, timestamp, body),
        body,
        redirect: 'manual',
        signal: ac.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ac);
    }
  }

  /** Stop retrying and abort deliveries in flight. */
  close(): void {
    this.closed = true;
    for (const c of this.cancels) c();
    this.cancels.clear();
    for (const ac of this.inflight) ac.abort();
  }
}
