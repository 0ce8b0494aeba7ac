/**
 * The hostile scenario is survivable: a small client that does what batchfleet must do (retry
 * 429/5xx/connection errors, dedupe batch creates through metadata, tolerate 404s right after
 * create, re-queue unexecuted items for free, give each item 6 attempts) gets every retryable
 * item through, and the inspection stats prove nothing was submitted or paid for twice.
 */
import Ajv2020 from 'ajv/dist/2020.js';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { clientIdForKey } from '../src/index.ts';
import { chatLine, jsonl, readResultFile, sleep, startTestSimulator, uploadBatchFile } from './helpers.ts';

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['category', 'priority'],
  properties: { category: { enum: ['billing', 'bug', 'feature_request', 'account', 'other'] }, priority: { enum: ['low', 'medium', 'high'] } },
};
const validate = new Ajv2020.default({ strict: false }).compile(SCHEMA);
const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];

async function call<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const retryable = err instanceof OpenAI.RateLimitError || err instanceof OpenAI.InternalServerError || err instanceof OpenAI.APIConnectionError;
      if (!retryable || i >= 30) throw err;
      await sleep(2);
    }
  }
}

describe('hostile scenario', () => {
  // Seed 4 produces an expired round, stuck batches and 404s after create; seed 10 a lost create.
  it.each([4, 10])('seed %i: a careful client gets every retryable item through with 6 attempts per item', async (seed) => {
    const t = await startTestSimulator({ seed, scenario: { extends: 'hostile', httpFaults: { slowMs: 5 } } });
    const { client, sim } = t;
    const N = 150;
    const items = Array.from({ length: N }, (_, i) => `item-${i}`);
    const attempts = new Map<string, number>(items.map((i) => [i, 0]));
    const done = new Map<string, unknown>();
    const permanent = new Set<string>();
    const ok200 = new Map<string, number>();
    let rounds = 0;
    let expiredRounds = 0;

    for (let pending = items; pending.length > 0 && rounds < 40; ) {
      rounds++;
      const tag = `round-${rounds}`;
      const lines = pending.map((id) =>
        chatLine(id, `Classify support ticket ${id}`, { response_format: { type: 'json_schema', json_schema: { name: 't', strict: true, schema: SCHEMA } } }),
      );
      const file = await call(() => uploadBatchFile(client, jsonl(lines)));
      let batch: OpenAI.Batches.Batch | undefined;
      while (!batch) {
        try {
          batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { tag } });
        } catch (err) {
          if (err instanceof OpenAI.NotFoundError) sim.clock.advance(10); // file not visible yet
          else if (!(err instanceof OpenAI.RateLimitError || err instanceof OpenAI.InternalServerError || err instanceof OpenAI.APIConnectionError)) throw err;
          // Did the create happen although we saw an error? Never create twice.
          batch = await call(async () => {
            for await (const b of client.batches.list({ limit: 100 })) if (b.metadata?.tag === tag) return b;
            return undefined;
          });
        }
      }
      for (;;) {
        sim.clock.advance(600);
        await sim.idle();
        try {
          batch = await call(() => client.batches.retrieve(batch!.id));
        } catch (err) {
          if (err instanceof OpenAI.NotFoundError) continue; // briefly invisible after create
          throw err;
        }
        if (TERMINAL.includes(batch.status)) break;
      }
      expect(batch.status).not.toBe('failed');
      if (batch.status === 'expired') expiredRounds++;

      if (batch.output_file_id) {
        for (const l of await call(() => readResultFile(t, batch!.output_file_id!))) {
          attempts.set(l.custom_id, (attempts.get(l.custom_id) ?? 0) + 1);
          ok200.set(l.custom_id, (ok200.get(l.custom_id) ?? 0) + 1);
          const choice = l.response!.body.choices[0];
          try {
            const value = JSON.parse(choice.message.content ?? '');
            if (choice.finish_reason === 'stop' && validate(value)) done.set(l.custom_id, value);
          } catch {
            // invalid JSON: counts as a failed attempt
          }
        }
      }
      if (batch.error_file_id) {
        for (const l of await call(() => readResultFile(t, batch!.error_file_id!))) {
          if (l.error) continue; // batch_expired / batch_cancelled: re-queued for free
          attempts.set(l.custom_id, (attempts.get(l.custom_id) ?? 0) + 1);
          if (l.response!.status_code === 400) permanent.add(l.custom_id);
        }
      }
      pending = items.filter((i) => !done.has(i) && !permanent.has(i) && (attempts.get(i) ?? 0) < 6);
    }

    const exhausted = items.filter((i) => !done.has(i) && !permanent.has(i));
    expect(exhausted).toEqual([]);
    expect(done.size + permanent.size).toBe(N);
    expect(permanent.size).toBeLessThanOrEqual(Math.ceil(N * 0.03));

    const stats = sim.stats();
    const me = stats.clients[clientIdForKey(t.apiKey)]!;
    for (const [tag, v] of Object.entries(me.batchesByMetadata.tag ?? {})) expect(v.count, tag).toBe(1);
    expect(me.batchesCreated).toBe(rounds);
    // 200s with unusable content were retried and paid twice: the stats see exactly those.
    expect(me.customIds.succeededMoreThanOnce).toBe([...ok200.values()].filter((n) => n > 1).length);
    expect([...done.keys()].every((id) => (ok200.get(id) ?? 0) >= 1)).toBe(true);
    const kinds = Object.keys(stats.totals.faults);
    expect(kinds.filter((k) => k.startsWith('http_')).length).toBeGreaterThanOrEqual(2);
    expect(kinds.filter((k) => k.startsWith('line_')).length).toBeGreaterThanOrEqual(4);
    console.info(`hostile seed ${seed}: ${rounds} rounds (${expiredRounds} expired), ${done.size} done, ${permanent.size} permanent 400s; faults ${JSON.stringify(stats.totals.faults)}`);
  });
});
