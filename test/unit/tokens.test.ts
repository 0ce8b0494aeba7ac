import { describe, expect, it } from 'vitest';
import {
  LruCache,
  TokenEstimationError,
  createTokenCounter,
  encodingForModel,
  imageDimensionsFromBytes,
  imageDimensionsFromDataUrl,
  imageTokens,
  isKnownModelFamily,
  maxImageTokens,
  patchCount,
  tileCount,
} from '../../src/tokens/index.ts';
import { CONTENT_PART_OVERHEAD, TOOL_CALL_OVERHEAD } from '../../src/tokens/chat-messages.ts';
import { getEncoder } from '../../src/tokens/encodings.ts';
import { RESPONSE_FORMAT_OVERHEAD } from '../../src/tokens/response-format.ts';
import { TextTokenizer } from '../../src/tokens/text-tokenizer.ts';

const CHAT = '/v1/chat/completions';

// openai-cookbook examples/How_to_count_tokens_with_tiktoken.ipynb @c81359c, section 6 (`example_messages`).
const COOKBOOK_MESSAGES = [
  {
    role: 'system',
    content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.',
  },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  {
    role: 'system',
    name: 'example_user',
    content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

// Same notebook, section 7 (`tools` and `example_messages`).
const COOKBOOK_TOOLS = [
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
const COOKBOOK_TOOL_MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  { role: 'user', content: "What's the weather like in San Francisco?" },
];

/** Catches the TokenEstimationError thrown by `fn` (fails the test if nothing or something else is thrown). */
function estimationError(fn: () => unknown): TokenEstimationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenEstimationError);
    return err as TokenEstimationError;
  }
  throw new Error('expected a TokenEstimationError, nothing was thrown');
}

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

function dataUrl(mime: string, bytes: Uint8Array): string {
  return `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;
}

/** PNG signature + IHDR (CRC left zero; not checked) + filler standing in for image data. */
function pngBytes(width: number, height: number): Buffer {
  const head = Buffer.alloc(33);
  head.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  head.writeUInt32BE(13, 8);
  head.write('IHDR', 12, 'latin1');
  head.writeUInt32BE(width, 16);
  head.writeUInt32BE(height, 20);
  head[24] = 8; // bit depth
  head[25] = 6; // RGBA
  return Buffer.concat([head, Buffer.alloc(5000, 0xab)]);
}

/** JPEG with APP0, a large APP1 (EXIF-like) segment before the SOF0 frame header, then filler. */
function jpegBytes(width: number, height: number, app1Size = 60_000): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const app1 = Buffer.alloc(4 + app1Size, 0x11);
  app1.set([0xff, 0xe1]);
  app1.writeUInt16BE(app1Size + 2, 2);
  const sof = Buffer.alloc(19);
  sof.set([0xff, 0xc0]);
  sof.writeUInt16BE(17, 2);
  sof[4] = 8;
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, app1, sof, Buffer.alloc(1000, 0x22)]);
}

function gifBytes(width: number, height: number): Buffer {
  const b = Buffer.alloc(64);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return b;
}

function webpBytes(kind: 'VP8X' | 'VP8L' | 'VP8 ', width: number, height: number): Buffer {
  const b = Buffer.alloc(64);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(56, 4);
  b.write('WEBP', 8, 'latin1');
  b.write(kind, 12, 'latin1');
  b.writeUInt32LE(40, 16);
  if (kind === 'VP8X') {
    b.writeUIntLE(width - 1, 24, 3);
    b.writeUIntLE(height - 1, 27, 3);
  } else if (kind === 'VP8L') {
    b[20] = 0x2f;
    b.writeUInt32LE(((width - 1) | ((height - 1) << 14)) >>> 0, 21);
  } else {
    b.set([0x9d, 0x01, 0x2a], 23);
    b.writeUInt16LE(width, 26);
    b.writeUInt16LE(height, 28);
  }
  return b;
}

describe('encodingForModel', () => {
  it.each([
    ['gpt-4o', 'o200k_base'],
    ['gpt-4o-mini-2024-07-18', 'o200k_base'],
    ['chatgpt-4o-latest', 'o200k_base'],
    ['gpt-4.1-nano', 'o200k_base'],
    ['gpt-5-mini', 'o200k_base'],
    ['o1', 'o200k_base'],
    ['o3-mini', 'o200k_base'],
    ['o4-mini-2025-04-16', 'o200k_base'],
    ['ft:gpt-4o-mini-2024-07-18:acme::abc123', 'o200k_base'],
    ['gpt-4', 'cl100k_base'],
    ['gpt-4-0613', 'cl100k_base'],
    ['gpt-4-turbo-2024-04-09', 'cl100k_base'],
    ['gpt-3.5-turbo-0125', 'cl100k_base'],
    ['text-embedding-ada-002', 'cl100k_base'],
    ['text-embedding-3-small', 'cl100k_base'],
    ['text-embedding-3-large', 'cl100k_base'],
  ] as const)('%s -> %s', (model, encoding) => {
    expect(encodingForModel(model)).toBe(encoding);
    expect(isKnownModelFamily(model)).toBe(true);
  });

  it('guesses o200k_base for an unknown model and says it is a guess', () => {
    expect(encodingForModel('acme-llm-7')).toBe('o200k_base');
    expect(isKnownModelFamily('acme-llm-7')).toBe(false);
  });

  it('creates each encoder once and reuses it', () => {
    expect(getEncoder('o200k_base')).toBe(getEncoder('o200k_base'));
    expect(getEncoder('cl100k_base')).not.toBe(getEncoder('o200k_base'));
  });
});

describe('chat messages: cookbook counts measured against the API', () => {
  const counter = createTokenCounter();

  it.each([
    ['gpt-4o', 124],
    ['gpt-4o-mini', 124],
    ['gpt-4', 129],
    ['gpt-4-0613', 129],
    ['gpt-3.5-turbo', 129],
  ] as const)('6-message example with 4 named messages: %s = %i', (model, expected) => {
    expect(counter.countRequest(CHAT, { model, messages: COOKBOOK_MESSAGES })).toBe(expected);
  });

  it.each([
    ['gpt-4o', 101],
    ['gpt-4o-mini', 101],
    ['gpt-4', 105],
    ['gpt-3.5-turbo', 105],
  ] as const)('tools example: %s = %i', (model, expected) => {
    expect(counter.countRequest(CHAT, { model, messages: COOKBOOK_TOOL_MESSAGES, tools: COOKBOOK_TOOLS })).toBe(expected);
  });

  it('counts the same with the JS split turned off (whole strings to the WASM encoder)', () => {
    const wasmOnly = createTokenCounter({ fastSplit: false });
    expect(wasmOnly.countRequest(CHAT, { model: 'gpt-4o', messages: COOKBOOK_MESSAGES })).toBe(124);
    expect(wasmOnly.countRequest(CHAT, { model: 'gpt-4', messages: COOKBOOK_TOOL_MESSAGES, tools: COOKBOOK_TOOLS })).toBe(105);
    expect(wasmOnly.stats().encoderCalls).toBe(wasmOnly.stats().textsTokenized);
  });

  it('counts the same whether the cache is on or off', () => {
    const uncached = createTokenCounter({ cacheSize: 0 });
    for (const model of ['gpt-4o', 'gpt-4']) {
      expect(uncached.countRequest(CHAT, { model, messages: COOKBOOK_MESSAGES })).toBe(
        counter.countRequest(CHAT, { model, messages: COOKBOOK_MESSAGES }),
      );
    }
    expect(uncached.stats().cacheEntries).toBe(0);
  });

  it('counts a fine-tuned model like its base model', () => {
    expect(counter.countRequest(CHAT, { model: 'ft:gpt-4o-mini-2024-07-18:acme::x1', messages: COOKBOOK_MESSAGES })).toBe(124);
  });

  it('counts the legacy `functions` list with the tools rule', () => {
    const functions = COOKBOOK_TOOLS.map((t) => t.function);
    expect(counter.countRequest(CHAT, { model: 'gpt-4o', messages: COOKBOOK_TOOL_MESSAGES, functions })).toBe(101);
    expect(counter.countRequest(CHAT, { model: 'gpt-4', messages: COOKBOOK_TOOL_MESSAGES, functions })).toBe(105);
  });

  it('over-estimates unverified models (gpt-4.1, gpt-5, o3) by 1 per message + 8 per request', () => {
    for (const model of ['gpt-4.1', 'gpt-5', 'o3']) {
      expect(counter.countRequest(CHAT, { model, messages: COOKBOOK_MESSAGES })).toBe(124 + COOKBOOK_MESSAGES.length + 8);
    }
  });

  it('counts array text content as its parts plus a per-part overhead', () => {
    const asString = counter.countRequest(CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello there, world' }] });
    const asParts = counter.countRequest(CHAT, {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello there,' }, { type: 'text', text: ' world' }] }],
    });
    const partTokens = counter.countText('gpt-4o', 'Hello there,') + counter.countText('gpt-4o', ' world');
    expect(asParts).toBe(asString - counter.countText('gpt-4o', 'Hello there, world') + partTokens + 2 * CONTENT_PART_OVERHEAD);
    expect(asParts).toBeGreaterThan(asString);
  });

  it('counts assistant tool_calls and tool results', () => {
    const base = [{ role: 'user', content: 'Weather in Paris?' }];
    const args = '{"location":"Paris, FR","unit":"celsius"}';
    const withCall = [
      ...base,
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_current_weather', arguments: args } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
    ];
    const n0 = counter.countRequest(CHAT, { model: 'gpt-4o', messages: base });
    const n1 = counter.countRequest(CHAT, { model: 'gpt-4o', messages: withCall });
    const t = (s: string) => counter.countText('gpt-4o', s);
    const assistant = 3 + t('assistant') + TOOL_CALL_OVERHEAD + t('get_current_weather') + t(args);
    const tool = 3 + t('tool') + t('call_1') + t('{"temp":21}');
    expect(n1 - n0).toBe(assistant + tool);
  });

  it('counts a json_schema response_format as name + schema JSON + a fixed overhead', () => {
    const schema = {
      type: 'object',
      properties: { category: { type: 'string', enum: ['billing', 'shipping', 'other'] }, urgency: { type: 'integer' } },
      required: ['category', 'urgency'],
      additionalProperties: false,
    };
    const plain = counter.countRequest(CHAT, { model: 'gpt-4o-mini', messages: COOKBOOK_MESSAGES });
    const withFormat = counter.countRequest(CHAT, {
      model: 'gpt-4o-mini',
      messages: COOKBOOK_MESSAGES,
      response_format: { type: 'json_schema', json_schema: { name: 'ticket', strict: true, schema } },
    });
    expect(withFormat - plain).toBe(
      RESPONSE_FORMAT_OVERHEAD + counter.countText('gpt-4o-mini', 'ticket') + counter.countText('gpt-4o-mini', JSON.stringify(schema)),
    );
    expect(counter.countRequest(CHAT, { model: 'gpt-4o-mini', messages: COOKBOOK_MESSAGES, response_format: { type: 'json_object' } })).toBe(plain);
  });

  it('counts nested tool parameters beyond the cookbook rule (over-estimate)', () => {
    const nested = structuredClone(COOKBOOK_TOOLS);
    const props = nested[0]!.function.parameters.properties as Record<string, unknown>;
    props.days = { type: 'array', description: 'Days to forecast', items: { type: 'string', format: 'date' } };
    const flat = counter.countRequest(CHAT, { model: 'gpt-4o', messages: COOKBOOK_TOOL_MESSAGES, tools: COOKBOOK_TOOLS });
    const deep = counter.countRequest(CHAT, { model: 'gpt-4o', messages: COOKBOOK_TOOL_MESSAGES, tools: nested });
    const t = (s: string) => counter.countText('gpt-4o', s);
    expect(deep - flat).toBe(3 + t('days:array:Days to forecast') + t(JSON.stringify({ items: { type: 'string', format: 'date' } })));
  });
});

describe('images', () => {
  it('reproduces the guide examples for gpt-4o (85 + 170/tile)', () => {
    expect(imageTokens('gpt-4o', 1024, 1024, 'high')).toBe(765);
    expect(imageTokens('gpt-4o', 2048, 4096, 'high')).toBe(1105);
    expect(imageTokens('gpt-4o', 2048, 4096)).toBe(1105); // auto counted as high
    expect(imageTokens('gpt-4o', 4096, 8192, 'low')).toBe(85);
    expect(imageTokens('gpt-4o', 10, 10, 'low')).toBe(85);
    expect(imageTokens('gpt-4o', 128, 64, 'high')).toBe(255); // small images are not upscaled: 1 tile
    expect(tileCount(1024, 1024)).toBe(4);
    expect(tileCount(2048, 4096)).toBe(6);
  });

  it('uses the per-family base/tile table', () => {
    expect(imageTokens('gpt-4o-mini', 1024, 1024, 'high')).toBe(2833 + 4 * 5667);
    expect(imageTokens('gpt-4o-mini', 1024, 1024, 'low')).toBe(2833);
    expect(imageTokens('gpt-4o-mini-2024-07-18', 128, 64, 'high')).toBe(2833 + 5667);
    expect(imageTokens('gpt-4.1', 1024, 1024, 'high')).toBe(765);
    expect(imageTokens('gpt-5', 1024, 1024, 'high')).toBe(70 + 4 * 140);
    expect(imageTokens('o1', 1024, 1024, 'high')).toBe(75 + 4 * 150);
    expect(imageTokens('o3', 2048, 4096, 'low')).toBe(75);
  });

  it('reproduces the patch examples and multipliers (rounded up)', () => {
    expect(patchCount(1024, 1024)).toBe(1024);
    expect(patchCount(1800, 2400)).toBe(1452);
    expect(imageTokens('gpt-4.1-mini', 1800, 2400)).toBe(2353); // ceil(1452 × 1.62 = 2352.24)
    expect(imageTokens('gpt-4.1-mini', 1024, 1024)).toBe(1659); // ceil(1658.88)
    expect(imageTokens('gpt-4.1-nano', 1024, 1024)).toBe(2520); // ceil(2519.04)
    expect(imageTokens('gpt-5-mini', 1024, 1024)).toBe(1659);
    expect(imageTokens('gpt-5-nano', 1024, 1024)).toBe(2520);
    expect(imageTokens('o4-mini', 1024, 1024)).toBe(1762); // ceil(1761.28)
    expect(imageTokens('gpt-4.1-mini', 20_000, 20_000)).toBeLessThanOrEqual(Math.ceil(1536 * 1.62));
  });

  it('never exceeds the unknown-size maximum', () => {
    const rnd = prng(11);
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-5', 'o1', 'gpt-4.1-mini', 'gpt-5-nano', 'o4-mini']) {
      for (let i = 0; i < 300; i++) {
        const w = 1 + Math.floor(rnd() * 9000);
        const h = 1 + Math.floor(rnd() * 9000);
        expect(imageTokens(model, w, h, 'high')).toBeLessThanOrEqual(maxImageTokens(model, 'high'));
      }
    }
    expect(maxImageTokens('gpt-4o', 'high')).toBe(85 + 8 * 170);
    expect(maxImageTokens('gpt-4o', 'low')).toBe(85);
    expect(maxImageTokens('gpt-4.1-mini')).toBe(2489);
  });

  it('rejects impossible sizes', () => {
    const err = estimationError(() => imageTokens('gpt-4o', 0, 100));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('0x100');
  });

  it('reads PNG, JPEG, GIF and WebP sizes from data URLs without decoding the image', () => {
    expect(imageDimensionsFromDataUrl(dataUrl('image/png', pngBytes(1024, 768)))).toEqual({ width: 1024, height: 768 });
    expect(imageDimensionsFromDataUrl(dataUrl('image/jpeg', jpegBytes(1800, 2400)))).toEqual({ width: 1800, height: 2400 });
    expect(imageDimensionsFromDataUrl(dataUrl('image/gif', gifBytes(320, 200)))).toEqual({ width: 320, height: 200 });
    expect(imageDimensionsFromDataUrl(dataUrl('image/webp', webpBytes('VP8X', 5000, 3000)))).toEqual({ width: 5000, height: 3000 });
    expect(imageDimensionsFromDataUrl(dataUrl('image/webp', webpBytes('VP8L', 1000, 16000)))).toEqual({ width: 1000, height: 16000 });
    expect(imageDimensionsFromDataUrl(dataUrl('image/webp', webpBytes('VP8 ', 640, 480)))).toEqual({ width: 640, height: 480 });
    // the format is sniffed from the bytes, not the declared MIME type
    expect(imageDimensionsFromDataUrl(dataUrl('image/jpeg', pngBytes(7, 9)))).toEqual({ width: 7, height: 9 });
    expect(imageDimensionsFromBytes(jpegBytes(33, 44, 10))).toEqual({ width: 33, height: 44 });
    expect(imageDimensionsFromDataUrl('data:image/png,not-base64')).toBeUndefined();
    expect(imageDimensionsFromDataUrl(dataUrl('image/png', Buffer.from('definitely not an image')))).toBeUndefined();
    expect(imageDimensionsFromDataUrl('https://example.com/a.png')).toBeUndefined();
  });

  it('counts an image part by its data-URL size, and a remote image as the largest allowed', () => {
    const counter = createTokenCounter();
    const t = (s: string) => counter.countText('gpt-4o', s);
    const body = (url: string, detail?: string) => ({
      model: 'gpt-4o',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this image?' },
            { type: 'image_url', image_url: detail === undefined ? { url } : { url, detail } },
          ],
        },
      ],
    });
    const frame = 3 + t('user') + CONTENT_PART_OVERHEAD + t('What is in this image?') + CONTENT_PART_OVERHEAD + 3;
    expect(counter.countRequest(CHAT, body(dataUrl('image/png', pngBytes(1024, 1024)), 'high'))).toBe(frame + 765);
    expect(counter.countRequest(CHAT, body(dataUrl('image/png', pngBytes(2048, 4096))))).toBe(frame + 1105);
    expect(counter.countRequest(CHAT, body(dataUrl('image/png', pngBytes(2048, 4096)), 'low'))).toBe(frame + 85);
    expect(counter.countRequest(CHAT, body('https://example.com/cat.jpg', 'high'))).toBe(frame + 1445);
    expect(
      counter.countRequest(CHAT, { ...body(dataUrl('image/jpeg', jpegBytes(1800, 2400))), model: 'gpt-4.1-mini' }),
    ).toBe(frame + 1 /* gpt-4.1-mini: +1 per message */ + 8 /* +8 per request */ + 2353);
  });
});

describe('embeddings and completions', () => {
  const counter = createTokenCounter();
  const model = 'text-embedding-3-small';
  const cl = (s: string) => getEncoder('cl100k_base').encode_ordinary(s).length;

  it('counts every input shape', () => {
    expect(counter.countRequest('/v1/embeddings', { model, input: 'The food was delicious and the waiter...' })).toBe(
      cl('The food was delicious and the waiter...'),
    );
    expect(counter.countRequest('/v1/embeddings', { model, input: ['first text', 'second, longer text here'] })).toBe(
      cl('first text') + cl('second, longer text here'),
    );
    expect(counter.countRequest('/v1/embeddings', { model, input: [1212, 318, 257, 1332] })).toBe(4);
    expect(counter.countRequest('/v1/embeddings', { model, input: [[1, 2, 3], [4, 5], [6]] })).toBe(6);
  });

  it('uses o200k_base for a guessed model and cl100k_base for ada-002', () => {
    const text = 'naïve café — 東京 🚀';
    expect(counter.countRequest('/v1/embeddings', { model: 'text-embedding-ada-002', input: text })).toBe(cl(text));
    expect(counter.countText('gpt-4o', text)).toBe(getEncoder('o200k_base').encode_ordinary(text).length);
    expect(cl(text)).not.toBe(getEncoder('o200k_base').encode_ordinary(text).length);
  });

  it('rejects malformed inputs naming the field', () => {
    expect(estimationError(() => counter.countRequest('/v1/embeddings', { model, input: [] })).message).toContain('body.input must not be an empty array');
    expect(estimationError(() => counter.countRequest('/v1/embeddings', { model, input: ['a', 7] })).path).toBe('body.input[1]');
    expect(estimationError(() => counter.countRequest('/v1/embeddings', { model, input: [[1, 2.5]] })).path).toBe('body.input[0][1]');
    expect(estimationError(() => counter.countRequest('/v1/embeddings', { model, input: { text: 'x' } })).message).toMatch(/^body\.input must be a string/);
    expect(estimationError(() => counter.countRequest('/v1/embeddings', { model })).path).toBe('body.input');
  });

  it('counts completions prompts', () => {
    expect(counter.countRequest('/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test' })).toBe(cl('Say this is a test'));
    expect(counter.countRequest('/v1/completions', { model: 'davinci-002', prompt: ['a b', 'c d e'] })).toBe(cl('a b') + cl('c d e'));
    expect(counter.countRequest('/v1/completions', { model: 'davinci-002', prompt: [[1, 2], [3]] })).toBe(3);
  });
});

describe('responses bodies (over-estimate)', () => {
  const counter = createTokenCounter();
  const t = (s: string) => counter.countText('gpt-4o', s);

  it('counts instructions and a string input like messages, plus margins', () => {
    const n = counter.countRequest('/v1/responses', {
      model: 'gpt-4o',
      instructions: 'You are a terse assistant.',
      input: 'Summarise the plot of Hamlet.',
    });
    expect(n).toBe(3 + 8 + (4 + t('developer') + t('You are a terse assistant.')) + (4 + t('user') + t('Summarise the plot of Hamlet.')));
    const chat = counter.countRequest(CHAT, {
      model: 'gpt-4o',
      messages: [
        { role: 'developer', content: 'You are a terse assistant.' },
        { role: 'user', content: 'Summarise the plot of Hamlet.' },
      ],
    });
    expect(n).toBeGreaterThan(chat);
  });

  it('counts message lists, function items, flat tools and text.format', () => {
    const tool = { type: 'function', name: 'get_current_weather', description: 'Get the current weather in a given location', parameters: COOKBOOK_TOOLS[0]!.function.parameters };
    const body = {
      model: 'gpt-4o',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: "What's the weather like in San Francisco?" }] },
        { type: 'function_call', call_id: 'c1', name: 'get_current_weather', arguments: '{"location":"SF"}' },
        { type: 'function_call_output', call_id: 'c1', output: '{"temp":18}' },
      ],
      tools: [tool],
    };
    const n = counter.countRequest('/v1/responses', body);
    const chatTools = counter.countRequest(CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], tools: COOKBOOK_TOOLS }) -
      counter.countRequest(CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    const items =
      4 + t('user') + CONTENT_PART_OVERHEAD + t("What's the weather like in San Francisco?") +
      4 + TOOL_CALL_OVERHEAD + t('get_current_weather') + t('{"location":"SF"}') +
      4 + t('c1') + t('{"temp":18}');
    expect(n).toBe(3 + 8 + items + chatTools);
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const withFormat = counter.countRequest('/v1/responses', { ...body, text: { format: { type: 'json_schema', name: 'out', schema } } });
    expect(withFormat - n).toBe(RESPONSE_FORMAT_OVERHEAD + t('out') + t(JSON.stringify(schema)));
  });

  it('refuses server-side context it cannot see', () => {
    const err = estimationError(() => counter.countRequest('/v1/responses', { model: 'gpt-4o', input: 'hi', previous_response_id: 'resp_1' }));
    expect(err.code).toBe('UNSUPPORTED_INPUT');
    expect(err.message).toContain('body.previous_response_id');
  });
});

describe('errors name what is wrong', () => {
  const counter = createTokenCounter();

  it('is a BullMQ-style typed error', () => {
    const err = new TokenEstimationError('boom', { path: 'body.x' });
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(TokenEstimationError);
    expect(err.name).toBe('TokenEstimationError');
    expect(err.code).toBe('MALFORMED_BODY');
    expect(err.path).toBe('body.x');
  });

  it.each([
    ['"/v1/moderations"', '/v1/moderations', { model: 'omni-moderation-latest', input: 'x' }, 'UNSUPPORTED_ENDPOINT'],
    ['body.model must be a non-empty string', CHAT, { messages: COOKBOOK_MESSAGES }, 'MALFORMED_BODY'],
    ['body.messages must be an array', CHAT, { model: 'gpt-4o', messages: 'hello' }, 'MALFORMED_BODY'],
    ['body.messages must contain at least one message', CHAT, { model: 'gpt-4o', messages: [] }, 'MALFORMED_BODY'],
    ['body.messages[1].role must be a string', CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: 'a' }, { content: 'b' }] }, 'MALFORMED_BODY'],
    ['body.messages[0].content must be a string', CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: 42 }] }, 'MALFORMED_BODY'],
    ['body.messages[0].content[1].image_url', CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url' }] }] }, 'MALFORMED_BODY'],
    ['body.messages[0].content[0]: audio', CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, 'UNSUPPORTED_INPUT'],
    ['body.tools[0].function.name', CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: 'a' }], tools: [{ type: 'function', function: { description: 'x' } }] }, 'MALFORMED_BODY'],
    ['body.tools must be an array', CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: 'a' }], tools: {} }, 'MALFORMED_BODY'],
    ['body.input is required', '/v1/responses', { model: 'gpt-4o' }, 'MALFORMED_BODY'],
  ] as const)('%s', (message, endpoint, body, code) => {
    const err = estimationError(() => counter.countRequest(endpoint, body as Record<string, unknown>));
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
  });

  it('rejects a non-object body and bad countText arguments', () => {
    expect(estimationError(() => counter.countRequest(CHAT, null as unknown as Record<string, unknown>)).message).toBe('body must be a JSON object, got null');
    expect(estimationError(() => counter.countText('', 'x')).code).toBe('INVALID_ARGUMENT');
    expect(estimationError(() => createTokenCounter({ cacheSize: -1 })).message).toContain('cacheSize');
  });
});

describe('cache', () => {
  const systemPrompt =
    'You are a meticulous support analyst for an online electronics store. Classify the message into one ' +
    'category (billing, shipping, returns, technical, other) and answer in JSON with keys category and urgency.';

  it('tokenizes a long string once', () => {
    const counter = createTokenCounter();
    const first = counter.countText('gpt-4o', systemPrompt);
    const before = counter.stats();
    for (let i = 0; i < 1000; i++) expect(counter.countText('gpt-4o', systemPrompt)).toBe(first);
    const after = counter.stats();
    expect(after.textsTokenized - before.textsTokenized).toBe(0);
    expect(after.cacheHits - before.cacheHits).toBe(1000);
    expect(after.encoderCalls).toBe(before.encoderCalls);
    // keyed per encoding: the same text in cl100k_base is a separate entry with its own count
    expect(counter.countText('gpt-4', systemPrompt)).toBe(getEncoder('cl100k_base').encode_ordinary(systemPrompt).length);
    expect(counter.stats().cacheMisses).toBe(after.cacheMisses + 1);
  });

  it('counts the shared system prompt and tool list of 50 requests once', () => {
    const counter = createTokenCounter({ prefixCacheSize: 0 }); // the string LRU alone (the prefix cache has its own tests)
    const reference = createTokenCounter({ cacheSize: 0 });
    const body = (i: number) => ({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: systemPrompt },
        { role: 'user', content: `Ticket ${i}: my order has not arrived` },
      ],
      tools: structuredClone(COOKBOOK_TOOLS), // a fresh but equal object each time, as after JSON.parse
    });
    counter.countRequest(CHAT, body(0));
    const warm = counter.stats();
    for (let i = 1; i < 50; i++) expect(counter.countRequest(CHAT, body(i))).toBe(reference.countRequest(CHAT, body(i)));
    const end = counter.stats();
    expect(end.cacheMisses - warm.cacheMisses).toBe(0);
    expect(end.cacheHits - warm.cacheHits).toBe(49 * 2); // system prompt + tool list, per request
    expect(reference.stats().cacheHits).toBe(0);
  });

  it('stays within cacheSize, evicting the least recently used entry', () => {
    const counter = createTokenCounter({ cacheSize: 2 });
    const long = (c: string) => c.repeat(100);
    counter.countText('gpt-4o', long('a '));
    counter.countText('gpt-4o', long('b '));
    counter.countText('gpt-4o', long('a ')); // refresh a
    counter.countText('gpt-4o', long('c ')); // evicts b
    expect(counter.stats().cacheEntries).toBe(2);
    const hits = counter.stats().cacheHits;
    counter.countText('gpt-4o', long('a '));
    expect(counter.stats().cacheHits).toBe(hits + 1);
    counter.countText('gpt-4o', long('b '));
    expect(counter.stats().cacheHits).toBe(hits + 1);
  });

  it('LruCache honours capacity and weight bounds', () => {
    const lru = new LruCache<string, number>(3, { maxWeight: 10, weigh: (k) => k.length });
    lru.set('aaa', 1);
    lru.set('bbb', 2);
    lru.set('ccc', 3);
    expect(lru.get('aaa')).toBe(1);
    lru.set('dd', 4); // over capacity and weight (11): evicts bbb, the least recently used
    expect(lru.has('bbb')).toBe(false);
    expect(lru.has('aaa')).toBe(true);
    expect(lru.totalWeight).toBeLessThanOrEqual(10);
    lru.set('x'.repeat(11), 5); // heavier than the whole budget: not cached
    expect(lru.size).toBe(3);
    expect(() => new LruCache(-1)).toThrow(RangeError);
  });
});

describe('fast text counting equals tiktoken encode_ordinary', () => {
  const tricky = [
    '', ' ', 'hello world', "don't DON'T We'Re I'M they'LL", 'ſ', "'ſ's", 'x\u0085y', '\uFEFFBOM', 'a\u00A0b',
    '   leading', 'trailing   ', '  \n\n  x', '\r\n\r\n', '1234567 12 1', '٣٤٥ Ⅻ ½', '中文字符 の テスト 한국어',
    '👍🏽 emoji 🚀🚀', 'e\u0301 combining', 'path/to//file.ts\n/', 'camelCaseXMLHttpRequest', '<|endoftext|> special',
    '\uD800 lone surrogate', 'https://example.com/a?b=c&d=e#f',
  ];
  const pool = [...tricky, 'a', 'Z', 'É', 'ß', "'s", "'LL", '\t', '\n', '\r', '\u3000', '\u2028', '7', '/', '.', '—', '“', '\u200D', 'word', 'WORD'];

  it.each(['o200k_base', 'cl100k_base'] as const)('%s: tricky strings and 3,000 random mixes', (encoding) => {
    const tok = new TextTokenizer(encoding);
    const encoder = getEncoder(encoding);
    for (const s of tricky) expect(tok.count(s), JSON.stringify(s)).toBe(encoder.encode_ordinary(s).length);
    const rnd = prng(encoding === 'o200k_base' ? 1 : 2);
    const mismatches: string[] = [];
    for (let i = 0; i < 3000; i++) {
      let s = '';
      const len = 1 + Math.floor(rnd() * 24);
      for (let j = 0; j < len; j++) {
        // mostly tricky fragments, sometimes any code point below U+30000 (incl. lone surrogates, unassigned)
        s += rnd() < 0.15 ? String.fromCodePoint(1 + Math.floor(rnd() * 0x2ffff)) : pool[Math.floor(rnd() * pool.length)]!;
      }
      if (tok.count(s) !== encoder.encode_ordinary(s).length) mismatches.push(JSON.stringify(s));
    }
    expect(mismatches).toEqual([]);
    expect(tok.encoderCalls).toBeGreaterThan(0);
  });

  it('should the split ever stop short, the encoder counts the rest', () => {
    const tok = new TextTokenizer('o200k_base');
    // A pattern that matches nothing at "42", in place of the real one (which matches at every position).
    Object.assign(tok, { splitter: /[a-z]+| /guy });
    const encoder = getEncoder('o200k_base');
    const expected = ['ab', ' ', '42cd ef'].reduce((n, p) => n + encoder.encode_ordinary(p).length, 0);
    expect(tok.count('ab 42cd ef')).toBe(expected);
    expect(tok.count('ab 42cd ef')).toBe(encoder.encode_ordinary('ab 42cd ef').length);
  });
});
