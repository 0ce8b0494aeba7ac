/*
 * OpenAI webhook receiver. OpenAI signs `batch.completed|failed|expired|cancelled` events the
 * Standard Webhooks way; the official SDK verifies them (`webhooks.unwrap(rawBody, headers)`,
 * which needs the body exactly as sent). A valid batch event only makes the next poll of that
 * batch run now: the poll job (`poll-<batch>-<submission>`) is promoted if it is waiting, or
 * recreated if Redis lost it. The poll itself reads the truth from the provider, so duplicates,
 * reordering and events for batches we do not know are harmless, and polling stays the fallback.
 *
 * Before any of that, cheap checks keep an unauthenticated sender from costing much: the headers must
 * have the exact Standard Webhooks shapes (`webhook-signature: v1,<base64>`, an all-digit timestamp),
 * and the body may not exceed {@link WEBHOOK_MAX_BYTES} (refused from Content-Length, or cut off while
 * streaming, before it is held in memory). A verified delivery whose webhook-id was already seen within
 * the tolerance window is acknowledged as a `duplicate` and not acted on again (Redis SET NX with a TTL).
 */
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import type { Context } from 'hono';
import type { Counter } from 'prom-client';
import type { PipelineContext } from '../pipeline/context.ts';
import { wakePoll, type WakeOutcome } from '../pipeline/triggers.ts';

export type WebhookOutcome = WakeOutcome | 'invalid' | 'duplicate' | 'too_large';

/** Largest webhook body accepted (bytes). OpenAI's batch events are well under 1 KB. */
export const WEBHOOK_MAX_BYTES = 1_048_576;
/** Timestamp tolerance of the signature check (the SDK's default), in seconds. */
export const WEBHOOK_TOLERANCE_S = 300;

const SIGNATURE_FORMAT = /^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$/;
const TIMESTAMP_FORMAT = /^\d{1,15}$/;
const ID_FORMAT = /^[\x21-\x7e]{1,256}$/;

/** Why the webhook headers are malformed, or null when they have the Standard Webhooks shapes. */
export function webhookHeaderProblem(headers: Headers): string | null {
  const id = headers.get('webhook-id');
  const timestamp = headers.get('webhook-timestamp');
  const signature = headers.get('webhook-signature');
  if (id === null || !ID_FORMAT.test(id)) return 'webhook-id must be 1-256 printable ASCII characters';
  if (timestamp === null || !TIMESTAMP_FORMAT.test(timestamp)) return 'webhook-timestamp must be all digits (seconds since the epoch)';
  if (signature === null || !SIGNATURE_FORMAT.test(signature)) return 'webhook-signature must be "v1,<base64>" (space-separated if several)';
  return null;
}

export interface WebhookResult {
  outcome: WebhookOutcome;
  eventId?: string;
  type?: string;
  batchId?: string;
}

export { wakePoll };

/** The Hono handler of `POST /webhooks/openai`. */
export function openAIWebhookHandler(ctx: PipelineContext, secret: string, events: Counter<'outcome'>) {
  const client = new OpenAI({ apiKey: ctx.config.provider.apiKey || 'unused', webhookSecret: secret, baseURL: ctx.config.provider.baseURL });
  return async (c: Context) => {
    const headerProblem = webhookHeaderProblem(c.req.raw.headers);
    if (headerProblem) {
      events.inc({ outcome: 'invalid' });
      ctx.log.warn({ problem: headerProblem }, 'webhook rejected: malformed headers');
      return c.json({ error: `invalid webhook: ${headerProblem}` }, 400);
    }
    const webhookId = c.req.header('webhook-id')!;
    const raw = await c.req.text();
    let event: { id?: string; type?: string; data?: { id?: string } };
    try {
      event = (await client.webhooks.unwrap(raw, c.req.raw.headers, secret, WEBHOOK_TOLERANCE_S)) as typeof event;
    } catch (err) {
      events.inc({ outcome: 'invalid' });
      ctx.log.warn({ err: (err as Error).message.slice(0, 200), webhookId }, 'webhook rejected: invalid signature');
      return c.json({ error: 'invalid webhook signature' }, 400);
    }
    // Seen within the window in which the signature stays valid (either side of now): acknowledge, do nothing.
    const seenKey = `${ctx.config.prefix}:webhook-seen:${createHash('sha256').update(webhookId).digest('hex').slice(0, 32)}`;
    try {
      if ((await ctx.redis.set(seenKey, '1', 'EX', 2 * WEBHOOK_TOLERANCE_S, 'NX')) === null) {
        events.inc({ outcome: 'duplicate' });
        ctx.log.info({ webhookId, eventId: event.id }, 'webhook already received: acknowledged, not acted on again');
        return c.json({ received: true, outcome: 'duplicate', eventId: event.id, type: event.type });
      }
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'webhook verified but Redis is unavailable for the duplicate check');
      events.inc({ outcome: 'error' });
      return c.json({ error: 'temporarily unavailable' }, 503);
    }
    const result: WebhookResult = { outcome: 'ignored', eventId: event.id, type: event.type };
    const providerBatchId = event.data?.id;
    if (typeof event.type === 'string' && event.type.startsWith('batch.') && typeof providerBatchId === 'string') {
      try {
        Object.assign(result, await wakePoll(ctx, providerBatchId));
      } catch (err) {
        // Verified but we could not act (Redis or PostgreSQL down): a 5xx makes OpenAI retry later.
        ctx.log.warn({ err: (err as Error).message, providerBatchId }, 'webhook verified but the poll could not be woken');
        await ctx.redis.del(seenKey).catch(() => undefined); // so OpenAI's retry of this delivery is acted on
        events.inc({ outcome: 'error' });
        return c.json({ error: 'temporarily unavailable' }, 503);
      }
    }
    events.inc({ outcome: result.outcome });
    ctx.log.info({ ...result, providerBatchId }, 'webhook received');
    return c.json({ received: true, ...result });
  };
}
