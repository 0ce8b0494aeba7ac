/**
 * The fleet against a simulator that tells the truth: real usage that differs from the fleet's
 * estimate (drift), a tight enqueued limit, reasoning and cached tokens priced as such, and the
 * Responses endpoint end to end.
 */
import OpenAI from 'openai';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { query } from '../../src/store/sql.ts';
import { sampleArticle, sampleTicket } from '../../src/demo/samples.ts';
import { costPair } from '../../src/pricing/index.ts';
import { classifyTicket, defineTask, responsesExample } from '../../src/tasks/index.ts';
import { createRegistry } from '../../src/tasks/registry.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

let h: TestHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function waitAllFinal(n: number, timeoutMs: number): Promise<void> {
  await waitFor('every item final', async () => {
    const [r] = await query<{ n: number }>(h!.ctx.db, `select count(*)::int as n from items where status in ('succeeded', 'failed')`);
    return r!.n === n;
  }, timeoutMs, 250);
}

const ITEMS = 5_000;

it(`real usage 5% above the estimate under a tight enqueued limit: ${ITEMS} items all succeed, at most one token_limit_exceeded per model`, async () => {
  const L = 150_000;
  h = await startHarness({
    scenario: { name: 'drift', limits: { enqueuedTokens: { 'gpt-4o-mini': L } } },
    simulator: { drift: 0.05 },
    env: { TOKEN_LIMITS: JSON.stringify({ 'gpt-4o-mini': L }) },
  });
  const items = Array.from({ length: ITEMS }, (_, i) => ({ externalId: `d-${i}`, input: sampleTicket(i) }));
  for (let i = 0; i < items.length; i += 500) await h.ctx.queues.intake.add('intake', { task: 'classify-ticket', items: items.slice(i, i + 500) });
  await waitAllFinal(ITEMS, 400_000);

  const [s] = await query<{ succeeded: number; batches: number; refusals: number }>(
    h.ctx.db,
    `select (select count(*)::int from items where status = 'succeeded') as succeeded,
            (select count(*)::int from batches where provider_batch_id is not null) as batches,
            (select coalesce(sum(token_limit_failures), 0)::int from batches) as refusals`,
  );
  expect(s!.succeeded).toBe(ITEMS);
  // The limit forced several waves: the whole run never fit at once.
  expect(s!.batches).toBeGreaterThan(1);
  const seen = Object.values(h.sim.stats().clients).reduce((a, c) => a + (c.faults.token_limit_exceeded ?? 0), 0);
  expect(seen).toBeLessThanOrEqual(1);
  expect(s!.refusals).toBeLessThanOrEqual(1);
  // The usage the fleet recorded is the simulator's (drifted) truth, not its own estimate.
  const [u] = await query<{ input: number }>(h.ctx.db, `select sum(input_tokens)::int as input from attempts where outcome = 'succeeded'`);
  const provider = new OpenAI({ apiKey: h.config.provider.apiKey, baseURL: h.sim.url });
  let reported = 0;
  for await (const b of provider.batches.list({ limit: 100 })) if (b.status === 'completed') reported += b.usage?.input_tokens ?? 0;
  expect(u!.input).toBe(reported);
}, 600_000);

/** A gpt-5 task whose every request starts with the same ~2,000-token system prompt. */
const SYSTEM = Array.from({ length: 400 }, (_, i) => `Rule ${i}: answer in one short sentence.`).join(' ');
const gpt5Task = defineTask({
  name: 'gpt5-cached',
  model: 'gpt-5',
  endpoint: '/v1/chat/completions',
  input: z.object({ q: z.string() }),
  limits: { maxAttempts: 3 },
  buildRequest: (input) => ({
    model: 'gpt-5',
    max_completion_tokens: 4_000,
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: input.q },
    ],
  }),
  parseOutput: ({ content }) => {
    if (!content) throw new Error('empty');
    return content;
  },
});

it('gpt-5: reasoning tokens show in usage and cost; a repeated 2,000-token system prompt is charged at the cached price', async () => {
  h = await startHarness({ registry: createRegistry([gpt5Task, classifyTicket]), apiKey: 'sk-truth-gpt5' });
  const n = 20;
  await h.ctx.queues.intake.add('intake', { task: 'gpt5-cached', items: Array.from({ length: n }, (_, i) => ({ externalId: `g-${i}`, input: { q: `question ${i}?` } })) });
  await waitAllFinal(n, 120_000);

  const provider = new OpenAI({ apiKey: 'sk-truth-gpt5', baseURL: h.sim.url });
  const batches = (await provider.batches.list({ limit: 100 })).data.filter((b) => b.status === 'completed');
  expect(batches.length).toBeGreaterThan(0);
  const usage = batches.reduce(
    (a, b) => ({
      input: a.input + b.usage!.input_tokens,
      cached: a.cached + b.usage!.input_tokens_details.cached_tokens,
      output: a.output + b.usage!.output_tokens,
      reasoning: a.reasoning + b.usage!.output_tokens_details.reasoning_tokens,
    }),
    { input: 0, cached: 0, output: 0, reasoning: 0 },
  );
  expect(usage.reasoning / usage.output).toBeGreaterThan(0.8);
  expect(usage.cached).toBeGreaterThanOrEqual((n - batches.length) * 1024);

  const rows = await query<{ input_tokens: number; cached_tokens: number; output_tokens: number; cost_usd: string }>(
    h.ctx.db,
    `select input_tokens, cached_tokens, output_tokens, cost_usd::text from attempts where outcome = 'succeeded'`,
  );
  expect(rows).toHaveLength(n);
  const sum = rows.reduce((a, r) => ({ input: a.input + r.input_tokens, cached: a.cached + r.cached_tokens, output: a.output + r.output_tokens }), { input: 0, cached: 0, output: 0 });
  // The fleet recorded exactly the provider's usage: output includes the reasoning tokens.
  expect(sum).toEqual({ input: usage.input, cached: usage.cached, output: usage.output });
  // Cost: uncached input at $0.625/M, cached at the batch cached price $0.0625/M, output (reasoning included) at $5/M.
  const expected = ((sum.input - sum.cached) * 0.625 + sum.cached * 0.0625 + sum.output * 5) / 1e6;
  const recorded = rows.reduce((a, r) => a + Number(r.cost_usd), 0);
  expect(recorded).toBeCloseTo(expected, 8);
  expect(costPair({ inputTokens: sum.input, cachedTokens: sum.cached, outputTokens: sum.output }, 'gpt-5').costUsd).toBeCloseTo(expected, 10);
  const uncachedPrice = ((sum.input * 0.625 + sum.output * 5) / 1e6);
  expect(recorded).toBeLessThan(uncachedPrice);
}, 200_000);

it('a /v1/responses task runs end to end', async () => {
  h = await startHarness({ registry: createRegistry([responsesExample]) });
  const n = 30;
  await h.ctx.queues.intake.add('intake', {
    task: 'responses-example',
    items: Array.from({ length: n }, (_, i) => ({ externalId: `r-${i}`, input: { title: sampleArticle(i).title, text: sampleArticle(i).text } })),
  });
  await waitAllFinal(n, 120_000);
  const rows = await query<{ status: string; output: { headline: string; keywords: string[] } }>(h.ctx.db, `select status, output from items`);
  expect(rows.filter((r) => r.status === 'succeeded')).toHaveLength(n);
  for (const r of rows) expect(r.output).toMatchObject({ headline: expect.any(String), keywords: expect.any(Array) });
  const [b] = await query<{ endpoint: string }>(h.ctx.db, `select distinct endpoint from batches`);
  expect(b?.endpoint).toBe('/v1/responses');
}, 200_000);
