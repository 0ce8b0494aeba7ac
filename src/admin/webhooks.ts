/*
 * OpenAI webhook receiver. OpenAI signs `batch.completed|failed|expired|cancelled` events the
 * Standard Webhooks way; the official SDK verifies them (`webhooks.unwrap(rawBody, headers)`,
 * which needs the body exactly as sent). A valid batch event only makes the next poll of that
 * batch run now: the poll job (`poll-<batch>-<submission>`) is promoted if it is waiting, or
 * recreated if Redis lost it. The poll itself reads the truth from the provider, so duplicates,
 * reordering and events for batches we do not know are harmless, and polling stays the fallback.
 */
import OpenAI from 'openai';
import type { Context } from 'hono';
import type { Counter } from 'prom-client';
import type { PipelineContext } from '../pipeline/context.ts';
import { wakePoll, type WakeOutcome } from '../pipeline/triggers.ts';

export type WebhookOutcome = WakeOutcome | 'invalid';

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
    const raw = await c.req.text();
    let event: { id?: string; type?: string; data?: { id?: string } };
    try {
      event = (await client.webhooks.unwrap(raw, c.req.raw.headers)) as typeof event;
    } catch (err) {
      events.inc({ outcome: 'invalid' });
      ctx.log.warn({ err: (err as Error).message, webhookId: c.req.header('webhook-id') }, 'webhook rejected: invalid signature');
      return c.json({ error: 'invalid webhook signature' }, 400);
    }
    const result: WebhookResult = { outcome: 'ignored', eventId: event.id, type: event.type };
    const providerBatchId = event.data?.id;
    if (typeof event.type === 'string' && event.type.startsWith('batch.') && typeof providerBatchId === 'string') {
      try {
        Object.assign(result, await wakePoll(ctx, providerBatchId));
      } catch (err) {
        // Verified but we could not act (Redis or PostgreSQL down): a 5xx makes OpenAI retry later.
        ctx.log.warn({ err: (err as Error).message, providerBatchId }, 'webhook verified but the poll could not be woken');
        events.inc({ outcome: 'error' });
        return c.json({ error: 'temporarily unavailable' }, 503);
      }
    }
    events.inc({ outcome: result.outcome });
    ctx.log.info({ ...result, providerBatchId }, 'webhook received');
    return c.json({ received: true, ...result });
  };
}
