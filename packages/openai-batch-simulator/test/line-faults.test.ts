import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { chatLine, chatLines, embeddingLine, fixture, runBatch, startTestSimulator, type OutputLine } from './helpers.ts';
import type { LineFaultName } from '../src/index.ts';

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['category', 'priority', 'summary', 'confidence', 'tags', 'details'],
  properties: {
    category: { type: 'string', enum: ['billing', 'bug', 'feature_request', 'account', 'other'] },
    priority: { type: 'string', enum: ['low', 'medium', 'high'] },
    summary: { type: 'string' },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    tags: { type: 'array', items: { type: 'string' }, maxItems: 3 },
    details: {
      type: 'object',
      additionalProperties: false,
      required: ['refund', 'count', 'note'],
      properties: { refund: { type: 'boolean' }, count: { type: 'integer', minimum: 1, maximum: 5 }, note: { anyOf: [{ type: 'string' }, { type: 'null' }] } },
    },
  },
};
const responseFormat = { type: 'json_schema', json_schema: { name: 'ticket', strict: true, schema: SCHEMA } };
const validate = new Ajv2020.default({ strict: false }).compile(SCHEMA);

const structuredLines = (n: number, prefix = 'req') =>
  Array.from({ length: n }, (_, i) => chatLine(`${prefix}-${i}`, `Ticket ${i}: ${['refund please', 'app crashes', 'add dark mode', 'cannot log in'][i % 4]}`, { response_format: responseFormat }));

async function withFault(fault: LineFaultName, lines = structuredLines(3)) {
  const t = await startTestSimulator({ scenario: { lineFaults: { [fault]: 1 } } });
  return { t, ...(await runBatch(t, lines)) };
}

const content = (l: OutputLine): string | null => l.response!.body.choices[0].message.content;

describe('outputs', () => {
  it('json_schema requests get JSON valid against the schema; labels depend on the input, deterministically', async () => {
    const t = await startTestSimulator();
    const { batch, output } = await runBatch(t, structuredLines(40));
    expect(batch.request_counts).toEqual({ total: 40, completed: 40, failed: 0 });
    const categories = new Set<string>();
    for (const l of output) {
      const value = JSON.parse(content(l)!);
      expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
      categories.add(value.category);
      expect(l.response!.body.choices[0].finish_reason).toBe('stop');
      expect(l.response!.body.usage.completion_tokens).toBeGreaterThan(0);
    }
    expect(categories.size).toBeGreaterThan(1);
    // Same input (same seed) -> same content, even under another custom_id in another batch.
    const again = await runBatch(t, [chatLine('other-id', 'Ticket 0: refund please', { response_format: responseFormat })]);
    expect(content(again.output[0]!)).toBe(content(output.find((l) => l.custom_id === 'req-0')!));
  });

  it('respects max_tokens / max_completion_tokens with finish_reason length', async () => {
    const t = await startTestSimulator();
    const { output } = await runBatch(t, [
      chatLine('short', 'Write a long answer about shipping delays and refunds', { max_tokens: 3 }),
      chatLine('short2', 'Write a long answer about shipping delays and refunds', { max_completion_tokens: 2 }),
      chatLine('free', 'Write a long answer about shipping delays and refunds'),
    ]);
    const by: Record<string, any> = Object.fromEntries(output.map((l) => [l.custom_id, l.response!.body]));
    expect(by.short.choices[0].finish_reason).toBe('length');
    expect(by.short.usage.completion_tokens).toBe(3);
    expect(by.short2.usage.completion_tokens).toBe(2);
    expect(by.free.choices[0].finish_reason).toBe('stop');
    expect(by.short.choices[0].message.content.length).toBeLessThan(by.free.choices[0].message.content.length);
    expect(by.free.choices[0].message.content.startsWith(by.short.choices[0].message.content)).toBe(true);
  });

  it('embeddings batches return deterministic unit vectors', async () => {
    const t = await startTestSimulator();
    const { batch, output } = await runBatch(t, [embeddingLine('e1', 'hello'), embeddingLine('e2', ['hello', 'world'], { dimensions: 8 })], { endpoint: '/v1/embeddings' });
    expect(batch.status).toBe('completed');
    const by: Record<string, any> = Object.fromEntries(output.map((l) => [l.custom_id, l.response!.body]));
    expect(by.e1.data[0].embedding).toHaveLength(1536);
    expect(by.e2.data).toHaveLength(2);
    expect(by.e2.data[0].embedding).toHaveLength(8);
    const norm = Math.hypot(...(by.e1.data[0].embedding as number[]));
    expect(norm).toBeCloseTo(1, 5);
    expect(by.e1.usage.prompt_tokens).toBeGreaterThan(0);
    expect(batch.usage?.output_tokens).toBe(0);
  });
});

describe('per-line faults (rate 1.0)', () => {
  it('http400: error file line with response.body.error and top-level error null, like the real one', async () => {
    const { batch, output, errors } = await withFault('http400');
    expect(batch.status).toBe('completed');
    expect(batch.output_file_id).toBeNull();
    expect(batch.request_counts).toEqual({ total: 3, completed: 0, failed: 3 });
    expect(output).toEqual([]);
    const real = JSON.parse(fixture('error.http400.real-openapi-302.jsonl'));
    for (const e of errors) {
      expect(Object.keys(e).sort()).toEqual(Object.keys(real).sort());
      expect(e.error).toBeNull();
      expect(e.response!.status_code).toBe(400);
      expect(e.response!.request_id).toMatch(/^[0-9a-f]{32}$/);
      expect(Object.keys(e.response!.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(e.response!.body.error.type).toBe('invalid_request_error');
      expect(['context_length_exceeded', 'invalid_prompt']).toContain(e.response!.body.error.code);
    }
    // nothing billed for failed requests
    expect(batch.usage?.input_tokens).toBe(0);
  });

  it('http400 is permanent for a request body; other faults re-roll when retried in a new batch', async () => {
    const t = await startTestSimulator({ scenario: { lineFaults: { http400: 0.5 } } });
    const lines = chatLines(20);
    const first = await runBatch(t, lines);
    const failedIds = first.errors.map((e) => e.custom_id).sort();
    expect(failedIds.length).toBeGreaterThan(0);
    const retry = await runBatch(t, lines.filter((l) => failedIds.includes(l.custom_id as string)));
    expect(retry.errors.map((e) => e.custom_id).sort()).toEqual(failedIds);

    const t2 = await startTestSimulator({ scenario: { lineFaults: { http500: 0.5 } } });
    const r1 = await runBatch(t2, lines);
    const failed1 = r1.errors.map((e) => e.custom_id);
    expect(failed1.length).toBeGreaterThan(0);
    const r2 = await runBatch(t2, lines.filter((l) => failed1.includes(l.custom_id as string)));
    expect(r2.errors.length).toBeLessThan(failed1.length); // the retry (same custom_ids, new batch) re-rolled
    expect(r2.output.length).toBeGreaterThan(0);
  });

  it('http500: server_error lines', async () => {
    const { batch, errors } = await withFault('http500');
    expect(batch).toMatchObject({ status: 'completed', output_file_id: null, request_counts: { total: 3, completed: 0, failed: 3 } });
    for (const e of errors) {
      expect(e.error).toBeNull();
      expect(e.response!.status_code).toBe(500);
      expect(e.response!.body.error).toMatchObject({ type: 'server_error', param: null, code: null });
    }
  });

  it('invalidJson: 200 with content that does not parse', async () => {
    const { batch, output } = await withFault('invalidJson');
    expect(batch.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    for (const l of output) {
      expect(l.response!.status_code).toBe(200);
      expect(l.response!.body.choices[0].finish_reason).toBe('stop');
      expect(() => JSON.parse(content(l)!)).toThrow();
    }
  });

  it('invalidJson and schemaViolation never touch plain-text requests', async () => {
    const t = await startTestSimulator({ scenario: { lineFaults: { invalidJson: 0.5, schemaViolation: 0.5 } } });
    const { output } = await runBatch(t, chatLines(5));
    for (const l of output) expect(l.response!.body.choices[0].finish_reason).toBe('stop');
  });

  it('schemaViolation: valid JSON that breaks the schema', async () => {
    const { output } = await withFault('schemaViolation');
    for (const l of output) {
      const value = JSON.parse(content(l)!);
      expect(validate(value)).toBe(false);
    }
  });

  it('truncated: finish_reason length and cut content', async () => {
    const { output } = await withFault('truncated');
    for (const l of output) {
      expect(l.response!.body.choices[0].finish_reason).toBe('length');
      expect(() => JSON.parse(content(l)!)).toThrow();
    }
  });

  it('refusal: message.refusal set, content null', async () => {
    const { output } = await withFault('refusal');
    for (const l of output) {
      expect(l.response!.body.choices[0].message).toMatchObject({ role: 'assistant', content: null, refusal: expect.any(String) });
      expect(l.response!.body.choices[0].finish_reason).toBe('stop');
    }
  });

  it('contentFilter: finish_reason content_filter, content null', async () => {
    const { output } = await withFault('contentFilter');
    for (const l of output) {
      expect(l.response!.body.choices[0].finish_reason).toBe('content_filter');
      expect(l.response!.body.choices[0].message.content).toBeNull();
    }
  });

  it('natural 400s: a prompt beyond the context window, a line without messages', async () => {
    const t = await startTestSimulator();
    const { batch, output, errors } = await runBatch(t, [
      chatLine('huge', 'hello', { max_tokens: 200_000 }),
      { custom_id: 'nomsg', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini' } },
      chatLine('fine', 'hello'),
    ]);
    expect(batch.request_counts).toEqual({ total: 3, completed: 1, failed: 2 });
    expect(output.map((l) => l.custom_id)).toEqual(['fine']);
    const by: Record<string, any> = Object.fromEntries(errors.map((e) => [e.custom_id, e.response!.body.error]));
    expect(by.huge).toMatchObject({ code: 'context_length_exceeded', param: 'messages', message: expect.stringMatching(/^This model's maximum context length is 128000 tokens\. However, you requested \d+ tokens \(\d+ in the messages, 200000 in the completion\)/) });
    expect(by.nomsg).toMatchObject({ param: 'messages', code: 'missing_required_parameter' });
  });
});

describe('output faults', () => {
  it('repeatedLine 1.0: every successful line comes again at the end of the output file, as a server_error with the same ids', async () => {
    const t = await startTestSimulator({ scenario: { outputFaults: { repeatedLine: 1 } } });
    const { batch, output, errors } = await runBatch(t, chatLines(5));
    expect(batch.request_counts).toEqual({ total: 5, completed: 5, failed: 0 });
    expect(errors).toEqual([]);
    expect(output).toHaveLength(10);
    const first = output.slice(0, 5);
    const repeated = output.slice(5);
    for (const l of first) expect(l.response!.status_code).toBe(200);
    expect(new Set(repeated.map((l) => l.custom_id))).toEqual(new Set(first.map((l) => l.custom_id)));
    for (const l of repeated) {
      const original = first.find((f) => f.custom_id === l.custom_id)!;
      expect(l).toMatchObject({ id: original.id, response: { status_code: 500, request_id: original.response!.request_id, body: { error: { type: 'server_error' } } }, error: null });
    }
    expect(t.sim.stats().totals.faults.repeated_line).toBe(5);
  });

  it('repeatedLine 0.5: about half the successful lines are repeated, each once, after all the first lines', async () => {
    const t = await startTestSimulator({ scenario: { outputFaults: { repeatedLine: 0.5 } } });
    const { output } = await runBatch(t, chatLines(40));
    const repeated = output.slice(40);
    expect(output.slice(0, 40).every((l) => l.response!.status_code === 200)).toBe(true);
    expect(repeated.every((l) => l.response!.status_code === 500)).toBe(true);
    expect(new Set(repeated.map((l) => l.custom_id)).size).toBe(repeated.length);
    expect(repeated.length).toBeGreaterThan(8);
    expect(repeated.length).toBeLessThan(32);
    expect(t.sim.stats().totals.faults.repeated_line).toBe(repeated.length);
  });
});
