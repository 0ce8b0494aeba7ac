import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import OpenAI from 'openai';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { signWebhook, WEBHOOK_USER_AGENT } from '../src/index.ts';
import { advanceUntil, check, chatLines, createBatch, fixture, startTestSimulator, waitFor, wire } from './helpers.ts';

const SECRET = `whsec_${Buffer.from('openai-batch-simulator-secret!!').toString('base64')}`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver that answers the statuses in `plan` in turn (then 200). */
async function receiver(plan: number[] = []): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = plan.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

describe('webhooks', () => {
  it('signs the stored openai-node test vector identically', () => {
    const v = JSON.parse(fixture('webhook.signature.testvector.openai-node.json')) as {
      payload: string;
      headers: Record<string, string>;
      secret: string;
    };
    expect(signWebhook(v.secret, v.headers['webhook-id']!, v.headers['webhook-timestamp']!, v.payload)).toBe(v.headers['webhook-signature']);
  });

  it('the SDK accepts the test vector (sanity check of the SDK path used below)', async () => {
    const v = JSON.parse(fixture('webhook.signature.testvector.openai-node.json')) as { payload: string; headers: Record<string, string>; secret: string };
    const spy = vi.spyOn(Date, 'now').mockReturnValue(Number(v.headers['webhook-timestamp']) * 1000);
    try {
      const client = new OpenAI({ apiKey: 'sk-test', baseURL: 'http://127.0.0.1:1/v1' });
      const event = await client.webhooks.unwrap(v.payload, v.headers, v.secret);
      expect(event.id).toBe('evt_685c059ae3a481909bdc86819b066fb6');
    } finally {
      spy.mockRestore();
    }
  });

  it('delivers batch.completed signed so that client.webhooks.unwrap accepts it', async () => {
    const hook = await receiver();
    const t = await startTestSimulator({ webhook: { url: hook.url, secret: SECRET } });
    const before = Math.floor(Date.now() / 1000);
    const b = await createBatch(t.client, chatLines(2));
    const done = await advanceUntil(t, b.id, 'completed');
    await waitFor('delivery', async () => hook.received.length >= 1);
    const [msg] = hook.received;
    expect(msg!.headers['user-agent']).toBe(WEBHOOK_USER_AGENT);
    expect(msg!.headers['content-type']).toBe('application/json');
    expect(msg!.headers['webhook-id']).toMatch(/^wh_[0-9a-f]{32}$/);
    const ts = Number(msg!.headers['webhook-timestamp']);
    // The real time of the attempt (not the simulated clock): between the start of the test and now.
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));

    const event = JSON.parse(msg!.body) as { id: string; object: string; type: string; created_at: number; data: { id: string } };
    expect(check(wire.webhookEvent, event, 'webhook')).toEqual([]);
    expect(event).toEqual({ id: expect.stringMatching(/^evt_[0-9a-f]{32}$/), object: 'event', type: 'batch.completed', created_at: done.completed_at, data: { id: b.id } });

    // Independent check of the Standard Webhooks signature.
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${msg!.headers['webhook-id']}.${ts}.${msg!.body}`).digest('base64');
    expect(msg!.headers['webhook-signature']).toBe(`v1,${expected}`);

    const unwrapped = await t.client.webhooks.unwrap(msg!.body, msg!.headers as Record<string, string>, SECRET);
    expect(unwrapped.type).toBe('batch.completed');
    await expect(t.client.webhooks.unwrap(msg!.body, msg!.headers as Record<string, string>, `whsec_${Buffer.from('wrong').toString('base64')}`)).rejects.toBeInstanceOf(
      OpenAI.InvalidWebhookSignatureError,
    );
  });

  it('sends batch.failed, batch.cancelled and batch.expired', async () => {
    const hook = await receiver();
    const t = await startTestSimulator({ webhook: { url: hook.url, secret: SECRET }, scenario: { batchFaults: { expire: { rate: 0 } } } });
    const failed = await createBatch(t.client, 'not json\n');
    await advanceUntil(t, failed.id, 'failed');
    const cancelled = await createBatch(t.client, chatLines(2));
    await t.sim.idle();
    await t.client.batches.cancel(cancelled.id);
    await advanceUntil(t, cancelled.id, 'cancelled');
    const t2 = await startTestSimulator({ webhook: { url: hook.url, secret: SECRET }, scenario: { batchFaults: { expire: { rate: 1, completedFraction: 0.5 } } } });
    const expired = await createBatch(t2.client, chatLines(2));
    await advanceUntil(t2, expired.id, 'expired', 3600);
    await waitFor('three events', async () => hook.received.length >= 3);
    const events = hook.received.map((r) => JSON.parse(r.body) as { type: string; data: { id: string } });
    for (const e of events) expect(check(wire.webhookEvent, e, 'webhook')).toEqual([]);
    expect(events.map((e) => [e.type, e.data.id])).toEqual([
      ['batch.failed', failed.id],
      ['batch.cancelled', cancelled.id],
      ['batch.expired', expired.id],
    ]);
  });

  it('retries with backoff on the simulated clock, keeping the webhook-id; duplicates at the configured rate', async () => {
    const hook = await receiver([500, 503]);
    const t = await startTestSimulator({ webhook: { url: hook.url, secret: SECRET }, scenario: { webhook: { retryBaseSeconds: 60, duplicateRate: 1 } } });
    const b = await createBatch(t.client, chatLines(1));
    await advanceUntil(t, b.id, 'completed');
    // Wait until the simulator has seen each failure (and scheduled the retry) before moving the clock.
    const failures = (): number => t.sim.stats().totals.webhooks.failedAttempts;
    await waitFor('first attempt failed', async () => hook.received.length >= 1 && failures() >= 1);
    t.sim.clock.advance(60);
    await waitFor('second attempt failed', async () => hook.received.length >= 2 && failures() >= 2);
    t.sim.clock.advance(119);
    expect(hook.received).toHaveLength(2);
    t.sim.clock.advance(1);
    await waitFor('third attempt and its duplicate', async () => hook.received.length >= 4);
    const ids = new Set(hook.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    for (const r of hook.received) await t.client.webhooks.unwrap(r.body, r.headers as Record<string, string>, SECRET);
    expect(t.sim.stats().totals.webhooks).toMatchObject({ events: 1, delivered: 1, failedAttempts: 2, duplicates: 1 });
  });
});
