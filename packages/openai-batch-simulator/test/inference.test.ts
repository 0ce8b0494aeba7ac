import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { chatLine, runBatch, startTestSimulator } from './helpers.ts';

describe('synchronous endpoints', () => {
  it('chat completions match what the same request gets in a batch', async () => {
    const t = await startTestSimulator();
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Summarize: the parcel arrived two weeks late.' }] };
    const sync = await t.client.chat.completions.create(body);
    expect(sync.object).toBe('chat.completion');
    expect(sync.model).toBe('gpt-4o-mini-2024-07-18');
    expect(sync.choices[0]!.message.content).toBeTruthy();
    expect(sync.usage!.total_tokens).toBe(sync.usage!.prompt_tokens + sync.usage!.completion_tokens);
    const { output } = await runBatch(t, [chatLine('x', body.messages[0]!.content)]);
    expect(output[0]!.response!.body.choices[0].message.content).toBe(sync.choices[0]!.message.content);
    expect(output[0]!.response!.body.usage.prompt_tokens).toBe(sync.usage!.prompt_tokens);
  });

  it('json_schema, n, and errors', async () => {
    const t = await startTestSimulator();
    const r = await t.client.chat.completions.create({
      model: 'gpt-4o',
      n: 2,
      messages: [{ role: 'user', content: 'Rate this' }],
      response_format: { type: 'json_schema', json_schema: { name: 'r', strict: true, schema: { type: 'object', additionalProperties: false, required: ['stars'], properties: { stars: { type: 'integer', minimum: 1, maximum: 5 } } } } },
    });
    expect(r.choices).toHaveLength(2);
    for (const c of r.choices) {
      const v = JSON.parse(c.message.content!) as { stars: number };
      expect(v.stars).toBeGreaterThanOrEqual(1);
      expect(v.stars).toBeLessThanOrEqual(5);
    }
    await expect(t.client.chat.completions.create({ model: '', messages: [] } as never)).rejects.toMatchObject({ status: 400, param: 'model' });
    await expect(t.client.chat.completions.create({ model: 'gpt-4o', messages: [] })).rejects.toMatchObject({ status: 400, param: 'messages' });
    await expect(t.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('embeddings: float and base64 (the SDK default) agree', async () => {
    const t = await startTestSimulator();
    const viaBase64 = await t.client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    const viaFloat = await t.client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'], encoding_format: 'float' });
    expect(viaBase64.data).toHaveLength(2);
    expect(viaBase64.data[0]!.embedding).toHaveLength(1536);
    for (let i = 0; i < 8; i++) expect(viaBase64.data[0]!.embedding[i]).toBeCloseTo(viaFloat.data[0]!.embedding[i]!, 6);
    expect(viaFloat.data[0]!.embedding).not.toEqual(viaFloat.data[1]!.embedding);
    const large = await t.client.embeddings.create({ model: 'text-embedding-3-large', input: 'x', encoding_format: 'float' });
    expect(large.data[0]!.embedding).toHaveLength(3072);
    expect(viaFloat.usage.prompt_tokens).toBeGreaterThan(0);
  });
});
