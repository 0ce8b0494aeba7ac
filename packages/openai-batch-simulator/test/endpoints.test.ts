/** `/v1/responses`, `/v1/completions` and `/v1/moderations` batches, and the assumed-behaviour knobs. */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { advanceUntil, chatLines, createBatch, readResultFile, runBatch, startTestSimulator } from './helpers.ts';

const line = (url: string, customId: string, body: Record<string, unknown>) => ({ custom_id: customId, method: 'POST', url, body });

describe('more endpoints', () => {
  it('runs /v1/responses batches with the Responses output shape', async () => {
    const t = await startTestSimulator();
    const schema = { type: 'object', additionalProperties: false, required: ['title'], properties: { title: { type: 'string' } } };
    const { batch, output } = await runBatch(
      t,
      [
        line('/v1/responses', 'r1', { model: 'gpt-4.1-mini', instructions: 'Name it.', input: 'A red bicycle with a basket', text: { format: { type: 'json_schema', name: 'title', strict: true, schema } } }),
      ],
      { endpoint: '/v1/responses' },
    );
    const reasoning = await runBatch(
      t,
      [line('/v1/responses', 'r2', { model: 'gpt-5-mini', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Say hello' }] }], max_output_tokens: 4000 })],
      { endpoint: '/v1/responses' },
    );
    expect(batch.status).toBe('completed');
    expect(batch.endpoint).toBe('/v1/responses');
    const r1 = output.find((l) => l.custom_id === 'r1')!.response!.body;
    expect(r1).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-4.1-mini-2025-04-14', error: null, incomplete_details: null });
    expect(r1.id).toMatch(/^resp_[0-9a-f]{48}$/);
    const msg = (r1.output as Array<Record<string, any>>).find((o) => o.type === 'message')!;
    expect(msg).toMatchObject({ type: 'message', role: 'assistant', status: 'completed' });
    expect(msg.content[0].type).toBe('output_text');
    expect(JSON.parse(msg.content[0].text as string)).toMatchObject({ title: expect.any(String) });
    expect(r1.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number), input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } });
    const r2 = reasoning.output[0]!.response!.body;
    expect((r2.output as Array<{ type: string }>).map((o) => o.type)).toEqual(['reasoning', 'message']);
    expect(r2.usage.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(reasoning.batch.usage!.output_tokens_details.reasoning_tokens).toBe(r2.usage.output_tokens_details.reasoning_tokens);
  });

  it('runs /v1/completions and /v1/moderations batches', async () => {
    const t = await startTestSimulator();
    const c = await runBatch(t, [line('/v1/completions', 'c1', { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time', max_tokens: 5 })], { endpoint: '/v1/completions' });
    const body = c.output[0]!.response!.body;
    expect(body).toMatchObject({ object: 'text_completion', choices: [{ index: 0, finish_reason: expect.stringMatching(/^(stop|length)$/) }] });
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(5);
    const m = await runBatch(t, [line('/v1/moderations', 'm1', { model: 'omni-moderation-latest', input: 'hello there' })], { endpoint: '/v1/moderations' });
    expect(m.output[0]!.response!.body).toMatchObject({ results: [{ flagged: false, categories: { violence: false } }] });
  });

  it('still refuses endpoints it cannot run, naming what it runs', async () => {
    const t = await startTestSimulator();
    const file = await t.client.files.create({ file: new File(['{}\n'], 'x.jsonl'), purpose: 'batch' });
    const err = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/videos' as never, completion_window: '24h' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toContain("'/v1/responses'");
  });
});

describe('assumed behaviour is a knob', () => {
  it('validation codes and the cancelled-line code and message can be set to what you observe', async () => {
    const t = await startTestSimulator({
      scenario: { validation: { codes: { invalidJsonLine: 'observed_code' } }, cancel: { unrunCode: 'my_cancel', unrunMessage: 'cancelled, not run' } },
    });
    const bad = await createBatch(t.client, 'not json\n');
    expect((await advanceUntil(t, bad.id, 'failed')).errors?.data?.[0]?.code).toBe('observed_code');
    const b = await createBatch(t.client, chatLines(3));
    await t.sim.idle();
    await t.client.batches.cancel(b.id);
    const done = await advanceUntil(t, b.id, 'cancelled');
    const errs = await readResultFile(t, done.error_file_id!);
    expect(errs.map((l) => l.error)).toEqual(Array(3).fill({ code: 'my_cancel', message: 'cancelled, not run' }));
  });

  it('happy is not immortal: a batch too large for the window expires', async () => {
    const t = await startTestSimulator();
    expect(t.sim.scenario.timing.secondsPerRequest * 50_000).toBeGreaterThan(86_400);
  });
});
