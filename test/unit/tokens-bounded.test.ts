import { describe, expect, it } from 'vitest';
import { createTokenCounter, TokenEstimationError } from '../../src/tokens/index.ts';
import { getEncoder } from '../../src/tokens/encodings.ts';
import { MAX_EXACT_PIECE_LENGTH, TextTokenizer } from '../../src/tokens/text-tokenizer.ts';

/** Deterministic pseudo-random text from an alphabet (a small LCG, so failures reproduce). */
function text(alphabet: string, length: number, seed = 7): string {
  const chars = [...alphabet];
  let s = seed;
  let out = '';
  while (out.length < length) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out += chars[s % chars.length];
  }
  return out.slice(0, length);
}

describe('token counting is bounded whatever the input', () => {
  const counter = createTokenCounter();

  it('counts 1,000,000 letters without a space, erring high but within a token per chunk', () => {
    const letters = text('abcdefghijklmnopqrstuvwxyz', 1_000_000);
    const n = counter.countText('gpt-4o-mini', letters);
    // Random lower-case letters are ~0.52 tokens per letter in o200k_base; 256-byte chunks add ~3,900 boundary tokens.
    expect(n).toBeGreaterThan(480_000);
    expect(n).toBeLessThan(560_000);
  });

  it('counts 100,000 letters in both encodings, and a 1,000,000-letter chat request', () => {
    const letters = text('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 100_000, 11);
    expect(counter.countText('gpt-4', letters)).toBeGreaterThan(40_000);
    expect(counter.countText('gpt-4o', letters)).toBeGreaterThan(40_000);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(1_000_000) }] };
    expect(counter.countRequest('/v1/chat/completions', body)).toBeGreaterThan(100_000);
  });

  it('never counts an over-long piece lower than the exact BPE count', () => {
    const alphabets = ['abcdefghijklmnopqrstuvwxyz', 'ab', 'ABCDEFGHIJ', '!?.,;:-', '日本語中文字', 'éàüöß', ' '];
    for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
      const tok = new TextTokenizer(encoding);
      const enc = getEncoder(encoding);
      alphabets.forEach((alphabet, i) => {
        for (const seed of [1, 2, 3]) {
          const piece = text(alphabet, 4_000, seed * 31 + i);
          const exact = enc.encode_ordinary(piece).length;
          const counted = tok.count(piece);
          expect(counted, `${encoding} ${alphabet}`).toBeGreaterThanOrEqual(exact);
          expect(counted, `${encoding} ${alphabet}`).toBeLessThanOrEqual(exact * 1.15 + 20);
        }
      });
    }
  });

  it('keeps normal text exact: no piece of prose is long enough to be chunked', () => {
    const tok = new TextTokenizer('o200k_base');
    const prose = 'The quick brown fox jumps over the lazy dog. Ünïcödé, 日本語, emoji 😀 and numbers 1234567. '.repeat(2_000);
    expect(tok.count(prose)).toBe(getEncoder('o200k_base').encode_ordinary(prose).length);
    const longestWord = 'a'.repeat(MAX_EXACT_PIECE_LENGTH);
    expect(tok.count(longestWord)).toBe(getEncoder('o200k_base').encode_ordinary(longestWord).length);
  });

  it('keeps surrogate pairs together when cutting chunks', () => {
    const tok = new TextTokenizer('cl100k_base');
    const emoji = '😀'.repeat(50_000);
    expect(tok.count(emoji)).toBeGreaterThanOrEqual(getEncoder('cl100k_base').encode_ordinary('😀'.repeat(1_000)).length * 50);
  });

  it('refuses a text over the configured length with a typed error naming the sizes', () => {
    const small = createTokenCounter({ maxTextLength: 1_000 });
    expect(small.countText('gpt-4o-mini', 'a'.repeat(1_000))).toBeGreaterThan(0);
    let caught: unknown;
    try {
      small.countText('gpt-4o-mini', 'a'.repeat(1_001));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TokenEstimationError);
    expect((caught as TokenEstimationError).code).toBe('INPUT_TOO_LARGE');
    expect((caught as Error).message).toBe('text is 1001 characters long, more than the 1000 the token counter accepts');
    expect(() => createTokenCounter().countText('gpt-4o-mini', 'a'.repeat(4_000_001))).toThrow(/more than the 4000000/);
  });

  it('counts the same over-long text with the JS split turned off, within the same bound', () => {
    const tok = new TextTokenizer('o200k_base', false);
    const letters = text('abcdefghijklmnopqrstuvwxyz', 200_000, 5);
    const fast = new TextTokenizer('o200k_base').count(letters);
    expect(tok.count(letters)).toBeGreaterThan(fast * 0.9);
    expect(tok.count(letters)).toBeLessThan(fast * 1.1);
  });
});
