import { describe, expect, it } from 'vitest';
import { createTokenCounter, TokenEstimationError } from '../../src/tokens/index.ts';

const CHAT = '/v1/chat/completions';

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['ticket', 'refund', 'the', 'API', 'crashes', 'when', 'I', 'upload', 'émoji 🎉', 'naïve', '42', 'JSON', '\n', '  ', 'don\'t', 'x'.repeat(70)];
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4', 'gpt-3.5-turbo', 'gpt-5'];
const SYSTEMS = Array.from({ length: 4 }, (_, i) => `You classify support tickets (variant ${i}). Answer with JSON only; never explain. ${'Be brief. '.repeat(i * 3)}`);
const TOOLS = [
  [{ type: 'function', function: { name: 'lookup_order', description: 'Find an order.', parameters: { type: 'object', properties: { id: { type: 'string', description: 'Order id' } }, required: ['id'] } } }],
  [
    { type: 'function', function: { name: 'refund', description: 'Refund.', parameters: { type: 'object', properties: { amount: { type: 'number' }, unit: { type: 'string', enum: ['usd', 'eur'] } } } } },
    { type: 'function', function: { name: 'noop' } },
  ],
];
const FORMATS = [
  { type: 'json_object' },
  { type: 'json_schema', json_schema: { name: 'triage', strict: true, schema: { type: 'object', properties: { category: { type: 'string', enum: ['a', 'b'] } }, required: ['category'], additionalProperties: false } } },
];

/** A chat body of a random shape: any mix of shared prefixes (system, developer, named, array content, tools, functions, formats) and per-request content. */
function randomBody(r: () => number): Record<string, unknown> {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const text = (n: number) => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const messages: Array<Record<string, unknown>> = [];
  const lead = Math.floor(r() * 4);
  for (let i = 0; i < lead; i++) {
    const shape = r();
    if (shape < 0.5) messages.push({ role: 'system', content: pick(SYSTEMS) });
    else if (shape < 0.65) messages.push({ role: 'developer', content: pick(SYSTEMS) });
    else if (shape < 0.8) messages.push({ role: 'system', name: 'example_user', content: pick(SYSTEMS) });
    else messages.push({ role: 'system', content: [{ type: 'text', text: pick(SYSTEMS) }] });
  }
  const rest = 1 + Math.floor(r() * 3);
  for (let i = 0; i < rest; i++) {
    const shape = r();
    if (shape < 0.6) messages.push({ role: 'user', content: text(1 + Math.floor(r() * 40)) });
    else if (shape < 0.75) messages.push({ role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup_order', arguments: '{"id":"7"}' } }] });
    else if (shape < 0.85) messages.push({ role: 'tool', tool_call_id: 'call_1', content: text(5) });
    else if (shape < 0.95) messages.push({ role: 'system', content: text(3) }); // a system message after the first user message is not prefix
    else messages.push({ role: 'user', content: [{ type: 'text', text: text(4) }, { type: 'text', text: text(2) }] });
  }
  const body: Record<string, unknown> = { model: pick(MODELS), messages, max_tokens: 50 };
  if (r() < 0.3) body.tools = pick(TOOLS);
  if (r() < 0.1) body.functions = [{ name: 'legacy', description: 'Old style.', parameters: { type: 'object', properties: { q: { type: 'string' } } } }];
  if (r() < 0.15) body.tool_choice = r() < 0.5 ? 'auto' : { type: 'function', function: { name: 'lookup_order' } };
  if (r() < 0.4) body.response_format = pick(FORMATS);
  return body;
}

describe('prefix cache: totals equal the uncached count', () => {
  it('on 3,000 bodies of random shapes, counted twice each in a shuffled order', () => {
    const r = prng(11);
    const bodies = Array.from({ length: 3_000 }, () => randomBody(r));
    const plain = createTokenCounter({ cacheSize: 0, prefixCacheSize: 0 });
    const expected = bodies.map((b) => plain.countRequest(CHAT, b));
    const cached = createTokenCounter({ prefixCacheSize: 50 });
    for (let round = 0; round < 2; round++) {
      const order = bodies.map((_, i) => i).sort(() => r() - 0.5);
      for (const i of order) expect(cached.countRequest(CHAT, bodies[i]!), `body ${i}: ${JSON.stringify(bodies[i])}`).toBe(expected[i]);
    }
    const stats = cached.stats();
    expect(stats.prefixHits).toBeGreaterThan(100);
    expect(stats.prefixEntries).toBeLessThanOrEqual(50);
  });

  it('counts a shared system prompt once and the rest of each request without caching it', () => {
    const counter = createTokenCounter();
    const system = SYSTEMS[3]!;
    const body = (i: number) => ({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: system }, { role: 'user', content: `Ticket ${i}: ${'my order never arrived and '.repeat(4)}` }] });
    const first = counter.countRequest(CHAT, body(0));
    const plain = createTokenCounter({ cacheSize: 0, prefixCacheSize: 0 });
    expect(first).toBe(plain.countRequest(CHAT, body(0)));
    for (let i = 1; i <= 100; i++) expect(counter.countRequest(CHAT, body(i))).toBe(plain.countRequest(CHAT, body(i)));
    const s = counter.stats();
    expect(s.prefixMisses).toBe(1);
    expect(s.prefixHits).toBe(100);
    // The unique user messages never entered the string LRU: only the system prompt did.
    expect(s.cacheEntries).toBe(1);
  });

  it('keys on the model too: the same prefix under another encoding is counted again', () => {
    const counter = createTokenCounter();
    const plain = createTokenCounter({ prefixCacheSize: 0 });
    for (const model of ['gpt-4o', 'gpt-4', 'gpt-4o', 'gpt-4']) {
      const body = { model, messages: [{ role: 'system', content: SYSTEMS[1]! }, { role: 'user', content: 'héllo wörld' }] };
      expect(counter.countRequest(CHAT, body)).toBe(plain.countRequest(CHAT, body));
    }
    expect(counter.stats().prefixMisses).toBe(2);
  });

  it('tells apart prefixes whose parts only differ in where one ends and the next begins', () => {
    const counter = createTokenCounter();
    const plain = createTokenCounter({ prefixCacheSize: 0 });
    const a = { model: 'gpt-4o', messages: [{ role: 'system', content: 'ab' }, { role: 'system', content: 'c' }, { role: 'user', content: 'x' }] };
    const b = { model: 'gpt-4o', messages: [{ role: 'system', content: 'a' }, { role: 'system', content: 'bc' }, { role: 'user', content: 'x' }] };
    expect(counter.countRequest(CHAT, a)).toBe(plain.countRequest(CHAT, a));
    expect(counter.countRequest(CHAT, b)).toBe(plain.countRequest(CHAT, b));
    expect(counter.stats().prefixMisses).toBe(2);
  });

  it('stays within its capacity', () => {
    const counter = createTokenCounter({ prefixCacheSize: 10 });
    for (let i = 0; i < 500; i++) counter.countRequest(CHAT, { model: 'gpt-4o', messages: [{ role: 'system', content: `prompt ${i}` }, { role: 'user', content: 'x' }] });
    expect(counter.stats().prefixEntries).toBe(10);
    expect(counter.stats().prefixMisses).toBe(500);
  });

  it('gives the same errors as the uncached count, and caches only prefixes that counted', () => {
    const bad: Array<Record<string, unknown>> = [
      { model: 'gpt-4o', messages: [] },
      { model: 'gpt-4o', messages: 'hello' },
      { model: 'gpt-4o', messages: [{ role: 'system', content: 42 }, { role: 'user', content: 'a' }] },
      { model: 'gpt-4o', messages: [{ role: 'system', content: 'ok' }, { role: 'user', content: { x: 1 } }] },
      { model: 'gpt-4o', messages: [{ role: 'system', content: 'ok' }, { role: 'user', content: 'a' }], tools: [{ type: 'function', function: { description: 'x' } }] },
      { model: 'gpt-4o', messages: [{ role: 'system', content: 'ok' }, { role: 'user', content: 'a' }], response_format: 'json' },
    ];
    const counter = createTokenCounter();
    const plain = createTokenCounter({ prefixCacheSize: 0 });
    for (const body of bad) {
      let expected: TokenEstimationError | undefined;
      try {
        plain.countRequest(CHAT, body);
      } catch (err) {
        expected = err as TokenEstimationError;
      }
      expect(expected, JSON.stringify(body)).toBeInstanceOf(TokenEstimationError);
      expect(() => counter.countRequest(CHAT, body)).toThrow(expected!.message);
    }
    // Only the valid `ok` prefix of the body whose error is in the user message was cached.
    expect(counter.stats().prefixEntries).toBe(1);
  });

  it('rejects a bad prefixCacheSize', () => {
    expect(() => createTokenCounter({ prefixCacheSize: -1 })).toThrow(/prefixCacheSize/);
  });
});
