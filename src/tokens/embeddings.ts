import { describe, malformed } from './body-shape.ts';
import type { CountContext } from './count-context.ts';

/**
 * Input tokens of a `/v1/embeddings` body. `input` may be a string, an array of strings, an array of token
 * ids (one pre-tokenized input: its length) or an array of token-id arrays (sum of lengths). Embeddings
 * have no per-input formatting overhead. Empty inputs are rejected as the API rejects them.
 */
export function countEmbeddingsBody(ctx: CountContext, body: Record<string, unknown>): number {
  const input = body.input;
  const path = 'body.input';
  if (typeof input === 'string') {
    if (input.length === 0) throw malformed(path, 'must not be an empty string');
    return ctx.text(input);
  }
  if (!Array.isArray(input)) {
    throw malformed(path, `must be a string, an array of strings or an array of token arrays, got ${describe(input)}`);
  }
  if (input.length === 0) throw malformed(path, 'must not be an empty array');
  const first: unknown = input[0];
  if (typeof first === 'number') {
    checkTokenArray(input, path);
    return input.length;
  }
  let n = 0;
  if (typeof first === 'string') {
    for (let i = 0; i < input.length; i++) {
      const item: unknown = input[i];
      if (typeof item !== 'string') throw malformed(`${path}[${i}]`, `must be a string like the other items, got ${describe(item)}`);
      if (item.length === 0) throw malformed(`${path}[${i}]`, 'must not be an empty string');
      n += ctx.text(item);
    }
    return n;
  }
  if (Array.isArray(first)) {
    for (let i = 0; i < input.length; i++) {
      const item: unknown = input[i];
      if (!Array.isArray(item)) throw malformed(`${path}[${i}]`, `must be an array of token ids like the other items, got ${describe(item)}`);
      if (item.length === 0) throw malformed(`${path}[${i}]`, 'must not be an empty token array');
      checkTokenArray(item, `${path}[${i}]`);
      n += item.length;
    }
    return n;
  }
  throw malformed(`${path}[0]`, `must be a string, a token id or an array of token ids, got ${describe(first)}`);
}

/** Throws unless every element is a non-negative integer token id. */
export function checkTokenArray(tokens: readonly unknown[], path: string): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) {
      throw malformed(`${path}[${i}]`, `must be a non-negative integer token id, got ${JSON.stringify(t) ?? describe(t)}`);
    }
  }
}
