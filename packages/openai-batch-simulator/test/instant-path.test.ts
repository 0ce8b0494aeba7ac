/**
 * The cheap paths of `instant` execution and of file I/O give exactly what the general paths give:
 * a body kept without its prompt answers like the whole body, instant validation reports the same
 * errors, uploads split anywhere arrive whole, and gathered blob writes keep every byte in order.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../src/file-store.ts';
import { executeRequest, instantBody, planRequest, type LineFault } from '../src/line-executor.ts';
import { readMultipart } from '../src/server/multipart.ts';
import { createCheapCounter } from '../src/tokens/reference-counter.ts';
import { validateInputFile } from '../src/validation.ts';
import { loadScenario } from '../src/scenarios.ts';
import { advanceUntil, chatLine, createBatch, jsonl, startTestSimulator } from './helpers.ts';

const schemaFormat = {
  type: 'json_schema',
  json_schema: { name: 'x', strict: true, schema: { type: 'object', additionalProperties: false, required: ['a'], properties: { a: { type: 'string' } } } },
};

describe('instant execution of a body kept without its prompt', () => {
  const counter = createCheapCounter();
  const cases: Array<{ endpoint: string; body: Record<string, unknown>; faults: LineFault[] }> = [
    { endpoint: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }], max_tokens: 50 }, faults: ['none', 'http500', 'truncated', 'refusal', 'contentFilter'] },
    { endpoint: '/v1/chat/completions', body: { model: 'o3-mini', messages: [{ role: 'user', content: 'ünïcode' }], n: 2, max_completion_tokens: 3, response_format: schemaFormat, reasoning_effort: 'high' }, faults: ['none', 'invalidJson', 'schemaViolation', 'truncated'] },
    { endpoint: '/v1/chat/completions', body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }, faults: ['none', 'invalidJson'] },
    { endpoint: '/v1/responses', body: { model: 'gpt-4.1-mini', instructions: 'be brief', input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], max_output_tokens: 100, metadata: { k: 'v' } }, faults: ['none', 'truncated'] },
    { endpoint: '/v1/responses', body: { model: 'gpt-5', input: 'hi', text: { format: { type: 'json_schema', name: 'x', schema: schemaFormat.json_schema.schema } } }, faults: ['none', 'invalidJson', 'schemaViolation'] },
    { endpoint: '/v1/completions', body: { model: 'gpt-3.5-turbo-instruct', prompt: 'say something', max_tokens: 5 }, faults: ['none', 'http500'] },
  ];
  for (const { endpoint, body, faults } of cases) {
    for (const fault of faults) {
      for (const reasoningShare of [0, 0.4]) {
        it(`${endpoint} ${String(body.model)} ${fault} (reasoning share ${reasoningShare})`, () => {
          const ctx = { seed: 7, counter, cachedPromptFraction: 0.25, reasoningShare, createdAt: 1_700_000_000, idKey: 'k|c|0', instant: true };
          const plan = planRequest(endpoint, body, counter);
          expect(plan.failure).toBeNull();
          const slim = instantBody(endpoint, body);
          expect(slim).not.toBeNull();
          expect(executeRequest(endpoint, slim!, fault, { ...ctx, promptTokens: plan.tokens })).toEqual(executeRequest(endpoint, body, fault, ctx));
        });
      }
    }
  }

  it('embeddings and moderations answer from their input: no slim body', () => {
    expect(instantBody('/v1/embeddings', { model: 'text-embedding-3-small', input: 'a' })).toBeNull();
    expect(instantBody('/v1/moderations', { model: 'omni-moderation-latest', input: 'a' })).toBeNull();
  });

  it('validation keeps each request in file order, with its planned tokens', async () => {
    const store = await FileStore.create();
    try {
      const lines = [chatLine('a', 'hello'), chatLine('b', 'a longer message here'), chatLine('c', 'x')];
      const path = `${store.dir}/in.jsonl`;
      const text = `${jsonl(lines)}\n`;
      await writeFile(path, text);
      const scenario = loadScenario('instant');
      const opts = { path, bytes: Buffer.byteLength(text), endpoint: '/v1/chat/completions', limits: scenario.limits, codes: scenario.validation.codes, counter, decideFault: () => 'none' as const };
      const result = await validateInputFile({ ...opts, keepLines: true, instantBodies: true });
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.lines?.customIds).toEqual(['a', 'b', 'c']);
      expect(result.lines?.bodies).toEqual(lines.map((l) => instantBody('/v1/chat/completions', l.body as Record<string, unknown>)));
      expect(result.lines?.promptTokens).toEqual([0, 1, 2].map((i) => (result.tokensBefore[i + 1] ?? 0) - (result.tokensBefore[i] ?? 0)));
      const plain = await validateInputFile(opts);
      expect(plain.ok && plain.lines).toBeUndefined();
      const failing = await validateInputFile({ ...opts, path: await writeLines(store, [...lines, chatLine('a', 'again')]), keepLines: true });
      expect(failing.ok).toBe(false);
    } finally {
      await store.close();
    }
  });
});

async function writeLines(store: FileStore, lines: unknown[]): Promise<string> {
  const path = `${store.dir}/f-${lines.length}.jsonl`;
  await writeFile(path, jsonl(lines));
  return path;
}

describe('instant validation', () => {
  const limits = { maxRequestsPerBatch: 3 };
  const files: Record<string, string> = {
    'bad json': `${JSON.stringify(chatLine('a', 'hi'))}\n{"custom_id": "b", oops\n`,
    'blank line inside': `${JSON.stringify(chatLine('a', 'hi'))}\n\n${JSON.stringify(chatLine('b', 'hi'))}\n`,
    'duplicate custom_id': jsonl([chatLine('a', 'hi'), chatLine('a', 'again')]),
    'wrong endpoint': jsonl([chatLine('a', 'hi'), { ...chatLine('b', 'hi'), url: '/v1/embeddings' }]),
    'model mismatch': jsonl([chatLine('a', 'hi'), chatLine('b', 'hi', { model: 'gpt-4o' })]),
    'too many requests': jsonl([chatLine('a', 'hi'), chatLine('b', 'hi'), chatLine('c', 'hi'), chatLine('d', 'hi')]),
    'missing body.model and method': jsonl([{ ...chatLine('a', 'hi'), body: { messages: [] } }, { ...chatLine('b', 'hi'), method: 'GET' }]),
    empty: '\n',
  };
  for (const [name, text] of Object.entries(files)) {
    it(`${name}: the same errors as full execution`, async () => {
      const errors: unknown[] = [];
      for (const scenario of [{ extends: 'happy', limits }, { extends: 'instant', limits }]) {
        const t = await startTestSimulator({ scenario });
        const b = await createBatch(t.client, text);
        const failed = await advanceUntil(t, b.id, ['failed', 'completed']);
        expect(failed.status).toBe('failed');
        errors.push(failed.errors?.data);
      }
      expect(errors[1]).toEqual(errors[0]);
    });
  }
});

describe('uploads split anywhere', () => {
  it('arrive whole, whatever the chunk sizes, even with near-boundaries in the file', async () => {
    const boundary = '----formdata-undici-0123456789';
    const content = Buffer.from(`line one\r\n--${boundary.slice(0, 10)}\r\n--${boundary.slice(0, -1)}X not the end\r\n-${'é'.repeat(40)}\r\n--\r\n`.repeat(3));
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      content,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const store = await FileStore.create();
    try {
      for (const size of [...Array.from({ length: 80 }, (_, i) => i + 1), 100, 257, body.length]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < body.length; i += size) chunks.push(body.subarray(i, i + size));
        const req = Object.assign(Readable.from(chunks), { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }) as unknown as IncomingMessage;
        const { fields, file, blob } = await readMultipart(req, () => store.openBlob(), 1_000_000);
        expect(fields.purpose, `chunks of ${size}`).toBe('batch');
        expect(file?.filename).toBe('in.jsonl');
        expect(await blob!.finish()).toBe(content.length);
        expect((await readFile(blob!.path)).equals(content), `chunks of ${size}`).toBe(true);
      }
    } finally {
      await store.close();
    }
  });
});

describe('blob writes', () => {
  it('keep every byte in order across strings, lines, small and large Buffers', async () => {
    const store = await FileStore.create();
    try {
      const blob = store.openBlob();
      const expected: Buffer[] = [];
      const big = 'y'.repeat(300_000);
      for (let i = 0; i < 3_000; i++) {
        const s = `{"n":${i},"t":"${'ü'.repeat(i % 7)}\u{1F600}"}`;
        if (i % 4 === 0) {
          await blob.writeLine(s);
          expected.push(Buffer.from(`${s}\n`));
        } else if (i % 4 === 1) {
          await blob.write(s);
          expected.push(Buffer.from(s));
        } else {
          const b = Buffer.alloc(i % 4 === 2 ? 100 : 40_000, i % 251);
          await blob.write(b);
          expected.push(b);
        }
        if (i % 1000 === 999) {
          await blob.writeLine(big);
          expected.push(Buffer.from(`${big}\n`));
        }
      }
      const all = Buffer.concat(expected);
      expect(blob.bytes).toBe(all.length);
      expect(await blob.finish()).toBe(all.length);
      expect((await readFile(blob.path)).equals(all)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
