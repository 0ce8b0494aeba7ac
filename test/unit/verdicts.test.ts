import { describe, expect, it } from 'vitest';
import { decide } from '../../src/pipeline/retry-policy.ts';
import { judgeLine, usageOf } from '../../src/pipeline/verdicts.ts';
import { decideFromHistory, judgeAlone } from '../../src/pipeline/process/verdicts.ts';
import { loadPriceTable } from '../../src/pricing/index.ts';
import { classifyTicket, resolveLimits } from '../../src/tasks/index.ts';

const input = { subject: 's', body: 'b' };
const usage = { prompt_tokens: 100, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 40 } };
const chat = (message: Record<string, unknown>, finish = 'stop') => ({
  custom_id: 'x',
  response: { status_code: 200, request_id: 'r', body: { choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }], usage } },
  error: null,
});
const good = JSON.stringify({ category: 'bug', priority: 'high', summary: 'It crashes.' });

describe('judgeLine: the verdict comes from the line and the task, never the batch', () => {
  it('accepts a valid answer and reads its usage', () => {
    expect(judgeLine(chat({ content: good }), classifyTicket, input)).toEqual({
      kind: 'succeeded',
      output: { category: 'bug', priority: 'high', summary: 'It crashes.' },
      usage: { inputTokens: 100, cachedTokens: 40, outputTokens: 20 },
    });
  });

  it.each([
    ['not JSON', chat({ content: '{"category": "bug"' }), 'not_json', false],
    ['against the schema', chat({ content: JSON.stringify({ category: 'weather', priority: 'high', summary: 'x' }) }), 'schema_mismatch', false],
    ['truncated', chat({ content: '{"category": "bu' }, 'length'), 'truncated', true],
    ['a refusal', chat({ content: null, refusal: "I can't help with that." }), 'refusal', false],
    ['content filtered', chat({ content: null }, 'content_filter'), 'content_filter', false],
  ])('%s is retryable with its own code', (_, line, code, truncated) => {
    expect(judgeLine(line, classifyTicket, input)).toMatchObject({ kind: 'retryable', code, truncated });
  });

  it('a 400 from the endpoint is permanent, a 500 retryable; both keep the provider code', () => {
    const err = (status: number, code: string) => ({
      custom_id: 'x',
      response: { status_code: status, request_id: 'r', body: { error: { message: 'm', type: 't', param: null, code } } },
      error: null,
    });
    expect(judgeLine(err(400, 'context_length_exceeded'), classifyTicket, input)).toMatchObject({ kind: 'permanent', code: 'context_length_exceeded' });
    expect(judgeLine(err(500, 'server_error'), classifyTicket, input)).toMatchObject({ kind: 'retryable', code: 'server_error' });
  });

  it('batch_expired and batch_cancelled lines mean "never executed"', () => {
    for (const code of ['batch_expired', 'batch_cancelled']) {
      expect(judgeLine({ custom_id: 'x', response: null, error: { code, message: 'm' } }, classifyTicket, input)).toMatchObject({ kind: 'not_executed', code });
    }
  });

  it('reads usage from chat, responses and embeddings shapes', () => {
    expect(usageOf({ usage: { input_tokens: 5, output_tokens: 2, input_tokens_details: { cached_tokens: 1 } } })).toEqual({ inputTokens: 5, cachedTokens: 1, outputTokens: 2 });
    expect(usageOf({ usage: { prompt_tokens: 7, total_tokens: 7 } })).toEqual({ inputTokens: 7, cachedTokens: 0, outputTokens: 0 });
    expect(usageOf({})).toEqual({ inputTokens: 0, cachedTokens: 0, outputTokens: 0 });
  });
});

describe('decide: the retry policy', () => {
  const limits = resolveLimits(classifyTicket);
  const item = (attempts: number, requeues = 0, max: number | null = null) => ({ id: 'i', externalId: 'e', input, attempts, requeues, maxOutputTokens: max });
  const retryable = { kind: 'retryable' as const, code: 'server_error', message: 'm', usage: { inputTokens: 1, cachedTokens: 0, outputTokens: 1 }, truncated: false };

  it('retries with growing spacing until the last attempt, then fails with the reason', () => {
    expect(decide(retryable, item(0), limits)).toMatchObject({ outcome: 'retry', status: 'queued', attempts_inc: 1, delay_ms: limits.retryDelayMs });
    expect(decide(retryable, item(2), limits)).toMatchObject({ outcome: 'retry', delay_ms: limits.retryDelayMs * 4 });
    expect(decide(retryable, item(limits.maxAttempts - 1), limits)).toMatchObject({
      outcome: 'failed',
      status: 'failed',
      error_code: 'server_error',
      error_message: expect.stringMatching(new RegExp(`gave up after ${limits.maxAttempts} attempts`)),
    });
  });

  it('retries a truncated answer with a larger output budget, up to the ceiling', () => {
    expect(decide({ ...retryable, code: 'truncated', truncated: true }, item(0), limits).max_output_tokens).toBe(300);
    expect(decide({ ...retryable, code: 'truncated', truncated: true }, item(1, 0, 12_000), limits).max_output_tokens).toBe(16_384);
  });

  it('fails a permanent error at once', () => {
    expect(decide({ kind: 'permanent', code: 'invalid_prompt', message: 'm', usage: retryable.usage }, item(0), limits)).toMatchObject({ outcome: 'failed', attempts_inc: 1 });
  });

  it('requeues a never-executed item without spending an attempt, under its own bound', () => {
    const ne = { kind: 'not_executed' as const, code: 'batch_expired', message: 'm' };
    expect(decide(ne, item(3, 0), limits)).toMatchObject({ outcome: 'not_executed', status: 'queued', attempts_inc: 0, requeues_inc: 1 });
    expect(decide(ne, item(3, limits.maxRequeues), limits)).toMatchObject({ status: 'failed', error_code: 'not_executed' });
  });
});

describe('judgeAlone: lines judged without their items', () => {
  const answerOnly = { ...classifyTicket, parseOutputUsesInput: false };
  const prices = { prices: loadPriceTable() };
  it('decides successes from their lines and leaves every other verdict to the item history', () => {
    const lines = new Map<string, Record<string, unknown>>([
      ['a', chat({ content: good })],
      ['b', chat({ content: '{"category": "bu' }, 'length')],
      ['c', { custom_id: 'c', response: null, error: { code: 'batch_expired', message: 'm' } }],
    ]);
    const { decided, waiting } = judgeAlone(prices, { model: classifyTicket.model }, answerOnly, lines);
    expect(decided).toHaveLength(1);
    expect(decided[0]).toMatchObject({ item_id: 'a', outcome: 'succeeded', status: 'succeeded', attempts_inc: 1, max_output_tokens: null, input_tokens: 100, output_tokens: 20 });
    expect(decided[0]!.cost_usd).toBeGreaterThan(0);
    expect([...waiting.keys()]).toEqual(['b', 'c']);
    expect(waiting.get('b')).toMatchObject({ kind: 'retryable', truncated: true });

    const history = [{ id: 'b', externalId: 'eb', input: undefined, attempts: 2, requeues: 0, maxOutputTokens: 300 }, { id: 'c', externalId: 'ec', input: undefined, attempts: 0, requeues: 1, maxOutputTokens: null }];
    const rest = decideFromHistory(prices, { model: classifyTicket.model }, resolveLimits(classifyTicket), history, waiting);
    expect(rest[0]).toMatchObject({ item_id: 'b', outcome: 'retry', max_output_tokens: 600 });
    expect(rest[1]).toMatchObject({ item_id: 'c', outcome: 'not_executed', requeues_inc: 1, attempts_inc: 0, cost_usd: 0 });
  });
});
