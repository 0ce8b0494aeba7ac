/**
 * The simulator tells the truth: wall-clock timestamps, its own token counts (with drift),
 * reasoning and cached tokens, project-scoped storage.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { toFile } from 'openai';
import { describe, expect, it, onTestFinished } from 'vitest';
import { cachedFor, createReferenceCounter, imageTokens, startSimulator } from '../src/index.ts';
import { advanceUntil, chatLine, createBatch, readResultFile, runBatch, startTestSimulator, waitFor, waitForStatus } from './helpers.ts';

/** The cookbook's messages (How_to_count_tokens_with_tiktoken): OpenAI measures 124 on o200k models, 129 on gpt-4. */
const COOKBOOK = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

const WEATHER_TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: 'Get the current weather in a given location',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
          unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  },
];
const WEATHER_MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  { role: 'user', content: "What's the weather like in San Francisco?" },
];

describe('reference token counting (OpenAI published rules, not any client estimator)', () => {
  const counter = createReferenceCounter();
  it('reproduces the cookbook measurements', () => {
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-5', 'o3']) {
      expect(counter.countRequest('/v1/chat/completions', { model, messages: COOKBOOK }), model).toBe(124);
    }
    expect(counter.countRequest('/v1/chat/completions', { model: 'gpt-4', messages: COOKBOOK })).toBe(129);
    expect(counter.countRequest('/v1/chat/completions', { model: 'gpt-4o', messages: WEATHER_MESSAGES, tools: WEATHER_TOOLS })).toBe(101);
    expect(counter.countRequest('/v1/chat/completions', { model: 'gpt-4', messages: WEATHER_MESSAGES, tools: WEATHER_TOOLS })).toBe(105);
  });

  it('reproduces the image guide examples, and reads sizes from data URLs', () => {
    expect(imageTokens('gpt-4o', { width: 1024, height: 1024 }, 'high')).toBe(765);
    expect(imageTokens('gpt-4o', { width: 2048, height: 4096 }, 'high')).toBe(1105);
    expect(imageTokens('gpt-4o', { width: 4000, height: 3000 }, 'low')).toBe(85);
    expect(imageTokens('gpt-4.1-mini', { width: 1800, height: 2400 }, 'high')).toBe(Math.round(1452 * 1.62));
    expect(imageTokens('gpt-4.1-mini', { width: 1024, height: 1024 }, 'high')).toBe(Math.round(1024 * 1.62));
    // A 128×64 PNG: one tile, not upscaled (community measurement: 8512 incl. text on gpt-4o-mini).
    const png = Buffer.alloc(33);
    png.writeUInt32BE(0x89504e47, 0);
    png.writeUInt32BE(128, 16);
    png.writeUInt32BE(64, 20);
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } };
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: [image] }] };
    expect(counter.countRequest('/v1/chat/completions', body)).toBe(3 + 3 + 1 + 2833 + 5667);
  });

  it('reports usage and enforces the enqueued limit from its own count times (1 + drift)', async () => {
    const messages = [{ role: 'user', content: 'word '.repeat(1000) }];
    const ref = counter.countRequest('/v1/chat/completions', { model: 'gpt-4o-mini', messages });
    const t = await startTestSimulator({ drift: 0.05, tokenLimits: { 'gpt-4o-mini': Math.round(ref * 1.05) * 2 } });
    const { output } = await runBatch(t, [chatLine('a', 'x', { messages }), chatLine('b', 'y', { messages: [{ role: 'user', content: 'word '.repeat(1000) + 'b' }] })]);
    expect(output.find((l) => l.custom_id === 'a')!.response!.body.usage.prompt_tokens).toBe(Math.round(ref * 1.05));
    // Three such requests do not fit a limit of two drifted ones, although three exact estimates would.
    const three = ['p', 'q', 'r'].map((id) => chatLine(id, 'x', { messages }));
    const failed = await advanceUntil(t, (await createBatch(t.client, three)).id, ['failed', 'in_progress'], 30);
    expect(failed.errors?.data?.[0]?.code).toBe('token_limit_exceeded');
  });
});

describe('wall-clock timestamps, accelerated durations', () => {
  it('at x1000 a batch created now says created_at at the wall clock, expires_at exactly +86400', async () => {
    const hook = await receiver();
    const secret = `whsec_${Buffer.from('wall-clock-test-secret').toString('base64')}`;
    const t = await startTestSimulator({ timeScale: 1000, webhook: { url: hook.url, secret } });
    // Timestamps are bracketed by the wall clock read before the request and after the answer,
    // so a slow machine widens the bracket instead of failing it (±1 s: whole-second rounding).
    const wallBefore = () => Math.floor(Date.now() / 1000) - 1;
    const wallAfter = () => Math.ceil(Date.now() / 1000) + 1;
    let before = wallBefore();
    const file = await t.client.files.create({ file: await toFile(Buffer.from(`${JSON.stringify(chatLine('a', 'hello'))}\n`), 'in.jsonl'), purpose: 'batch' });
    expect(file.created_at).toBeGreaterThanOrEqual(before);
    expect(file.created_at).toBeLessThanOrEqual(wallAfter());
    expect(file.expires_at).toBe(file.created_at + 30 * 86_400);
    before = wallBefore();
    const b = await t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(b.created_at).toBeGreaterThanOrEqual(before);
    expect(b.created_at).toBeLessThanOrEqual(wallAfter());
    expect(b.expires_at).toBe(b.created_at + 86_400);
    // 60 s validation + 300 s processing + 300 s finalizing of simulated time pass in well under a second...
    const done = await waitForStatus(t.client, b.id, 'completed');
    const now = Date.now() / 1000;
    expect(done.expires_at).toBe(done.created_at + 86_400);
    // ...and every timestamp is wall-clock: never in the future, not 660 s after created_at.
    for (const at of [done.in_progress_at, done.finalizing_at, done.completed_at]) {
      expect(at).not.toBeNull();
      expect(at!).toBeGreaterThanOrEqual(done.created_at);
      expect(at!).toBeLessThanOrEqual(Math.ceil(now));
    }
    const out = await t.client.files.retrieve(done.output_file_id!);
    expect(out.created_at).toBeGreaterThanOrEqual(b.created_at);
    expect(out.created_at).toBeLessThanOrEqual(Math.ceil(now));
    expect(out.expires_at).toBe(out.created_at + 30 * 86_400);
    // The webhook's created_at is the wall-clock end of the batch, consistent with webhook-timestamp
    // (the real time of the delivery attempt: after the end, before the test reads it).
    await waitFor('the webhook', async () => hook.received.length >= 1);
    const msg = hook.received[0]!;
    const event = JSON.parse(msg.body) as { created_at: number };
    expect(event.created_at).toBe(done.completed_at);
    const stamp = Number(msg.headers['webhook-timestamp']);
    expect(event.created_at).toBeLessThanOrEqual(stamp);
    expect(stamp).toBeLessThanOrEqual(wallAfter());
    await t.client.webhooks.unwrap(msg.body, msg.headers as Record<string, string>, secret);
  }, 150_000);
});

describe('reasoning and cached tokens', () => {
  it('a gpt-5 batch reports reasoning tokens, and a repeated 2,000-token system prompt reports cached tokens', async () => {
    const counter = createReferenceCounter();
    const system = Array.from({ length: 400 }, (_, i) => `rule ${i}: be brief.`).join(' ');
    const systemTokens = counter.countText('gpt-5', system);
    expect(systemTokens).toBeGreaterThan(1900);
    const lines = Array.from({ length: 6 }, (_, i) =>
      chatLine(`r${i}`, '', { model: 'gpt-5', max_completion_tokens: 4000, messages: [{ role: 'system', content: system }, { role: 'user', content: `question ${i}` }] }),
    );
    const t = await startTestSimulator();
    const { batch, output } = await runBatch(t, lines);
    expect(output).toHaveLength(6);
    const cached = output.map((l) => l.response!.body.usage.prompt_tokens_details.cached_tokens as number).sort((a, b) => a - b);
    // The first request warms the cache; every later one reuses the system prompt (3 + its tokens), in 128-token steps.
    expect(cached[0]).toBe(0);
    for (const c of cached.slice(1)) expect(c).toBe(cachedFor(systemTokens + 3));
    expect(cachedFor(systemTokens + 3) % 128).toBe(0);
    for (const l of output) {
      const u = l.response!.body.usage;
      const visible = counter.countText('gpt-5', l.response!.body.choices[0].message.content as string);
      expect(u.completion_tokens_details.reasoning_tokens).toBe(Math.round((visible * 0.9) / 0.1));
      expect(u.completion_tokens).toBe(visible + u.completion_tokens_details.reasoning_tokens);
    }
    const sum = (f: (u: Record<string, any>) => number): number => output.reduce((a, l) => a + f(l.response!.body.usage), 0);
    expect(batch.model).toBe('gpt-5-2025-08-07');
    expect(batch.usage).toMatchObject({
      input_tokens: sum((u) => u.prompt_tokens),
      input_tokens_details: { cached_tokens: sum((u) => u.prompt_tokens_details.cached_tokens) },
      output_tokens: sum((u) => u.completion_tokens),
      output_tokens_details: { reasoning_tokens: sum((u) => u.completion_tokens_details.reasoning_tokens) },
    });
    expect(batch.usage!.output_tokens_details.reasoning_tokens / batch.usage!.output_tokens).toBeGreaterThan(0.85);
  });

  it('reasoning spends the output limit first: a small max_completion_tokens truncates with finish_reason length', async () => {
    const t = await startTestSimulator();
    const { output } = await runBatch(t, [chatLine('a', 'explain', { model: 'o3', max_completion_tokens: 20 })]);
    const body = output[0]!.response!.body;
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(20);
    expect(body.usage.completion_tokens_details.reasoning_tokens).toBe(20);
    expect(body.choices[0].message.content).toBe('');
  });

  it('prompts under 1,024 tokens are never cached; other organizations do not share the cache; a cold prefix expires', async () => {
    // Each runBatch moves the clock by at least 660 simulated seconds: a TTL of one day keeps the prefix warm.
    const t = await startTestSimulator({ scenario: { usage: { cacheTtlSeconds: 86_400 } } });
    const short = await runBatch(t, [chatLine('a', 'short prompt'), chatLine('b', 'short prompt')]);
    for (const l of short.output) expect(l.response!.body.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const long = [{ role: 'system', content: 'policy '.repeat(1500) }, { role: 'user', content: 'hi' }];
    await runBatch(t, [chatLine('c', '', { messages: long })]);
    const other = t.newClient();
    const theirs = await runBatch(t, [chatLine('d', '', { messages: long })], { client: other });
    expect(theirs.output[0]!.response!.body.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const mine = await runBatch(t, [chatLine('e', '', { messages: long })]);
    expect(mine.output[0]!.response!.body.usage.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(1024);
    // With the default TTL (600 s) the same prefix has gone cold by the next batch.
    const d = await startTestSimulator();
    await runBatch(d, [chatLine('f', '', { messages: long })]);
    const cold = await runBatch(d, [chatLine('g', '', { messages: long })]);
    expect(cold.output[0]!.response!.body.usage.prompt_tokens_details.cached_tokens).toBe(0);
  });
});

describe('usage before the end (ASSUMED, knob usage.whileRunning)', () => {
  it("'partial' shows the input tokens of the requests done so far; 'null' shows nothing", async () => {
    const t = await startTestSimulator({ scenario: { usage: { whileRunning: 'partial' }, timing: { validationSeconds: 10, secondsPerRequest: 10, minProcessingSeconds: 0 } } });
    const b = await createBatch(t.client, [chatLine('a', 'one'), chatLine('b', 'two')]);
    await advanceUntil(t, b.id, 'in_progress', 10);
    t.sim.clock.advance(10);
    const half = await t.client.batches.retrieve(b.id);
    expect(half.request_counts?.completed).toBe(1);
    expect(half.usage!.input_tokens).toBeGreaterThan(0);
    expect(half.usage!.output_tokens).toBe(0);
    const n = await startTestSimulator({ scenario: { usage: { whileRunning: 'null' } } });
    expect((await createBatch(n.client, [chatLine('a', 'one')])).usage).toBeNull();
  });
});

describe('project-scoped storage', () => {
  it('every key of a project sees its files and batches; another project sees none of them', async () => {
    const t = await startTestSimulator({ projects: { mapped: ['sk-mapped-1', 'sk-mapped-2'] } });
    const a1 = t.newClient('team-a:sk-one');
    const a2 = t.newClient('team-a:sk-two');
    const b1 = t.newClient('team-b:sk-one');
    const batch = await createBatch(a1, [chatLine('x', 'hello')]);
    expect((await a2.batches.retrieve(batch.id)).id).toBe(batch.id);
    expect((await a2.files.retrieve(batch.input_file_id)).id).toBe(batch.input_file_id);
    expect((await a2.batches.list()).data.map((b) => b.id)).toEqual([batch.id]);
    await expect(b1.batches.retrieve(batch.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(b1.files.retrieve(batch.input_file_id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await b1.batches.list()).data).toEqual([]);
    // Keys grouped with the `projects` option share too.
    const m = await createBatch(t.newClient('sk-mapped-1'), [chatLine('y', 'hi')]);
    expect((await t.newClient('sk-mapped-2').batches.retrieve(m.id)).id).toBe(m.id);
    await expect(t.newClient('sk-unmapped').batches.retrieve(m.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await advanceUntil(t, batch.id, 'completed', 600, 100, a1);
    const done = await a2.batches.retrieve(batch.id);
    expect((await readResultFile(t, done.output_file_id!, a2)).map((l) => l.custom_id)).toEqual(['x']);
  });
});

describe('instant execution', () => {
  it('finishes without any simulated waiting and answers every request of a format with the same content', async () => {
    const sim = await startSimulator({ scenario: 'instant', timeScale: 0 });
    onTestFinished(() => sim.close());
    const client = new OpenAI({ apiKey: 'sk-bench', baseURL: sim.url, maxRetries: 0 });
    const schema = { type: 'object', additionalProperties: false, required: ['label'], properties: { label: { type: 'string' } } };
    const rf = { type: 'json_schema', json_schema: { name: 'x', strict: true, schema } };
    const lines = [chatLine('a', 'first input', { response_format: rf }), chatLine('b', 'a completely different input', { response_format: rf })];
    const b = await createBatch(client, lines);
    const done = await waitForStatus(client, b.id, 'completed'); // the clock is frozen: nothing was advanced
    const text = await (await client.files.content(done.output_file_id!)).text();
    const contents = text.trim().split('\n').map((l) => (JSON.parse(l) as { response: { body: { choices: Array<{ message: { content: string } }> } } }).response.body.choices[0]!.message.content);
    expect(contents).toHaveLength(2);
    expect(contents[0]).toBe(contents[1]);
    expect(JSON.parse(contents[0]!)).toMatchObject({ label: expect.any(String) });
    expect(done.usage!.input_tokens).toBeGreaterThan(0);
  });
});

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function receiver(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}
