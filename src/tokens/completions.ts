import { describe, malformed } from './body-shape.ts';
import type { CountContext } from './count-context.ts';
import { checkTokenArray } from './embeddings.ts';

/**
 * Input tokens of a legacy `/v1/completions` body: `prompt` as a string, an array of strings, an array of
 * token ids or an array of token-id arrays (summed: each element is a separate prompt), plus `suffix`.
 * A `null` prompt is the API default `<|endoftext|>`, one token.
 */
export function countCompletionsBody(ctx: CountContext, body: Record<string, unknown>): number {
  const prompt = body.prompt;
  const path = 'body.prompt';
  let n = typeof body.suffix === 'string' ? ctx.text(body.suffix) : 0;
  if (prompt === null) return n + 1;
  if (typeof prompt === 'string') return n + ctx.text(prompt);
  if (!Array.isArray(prompt)) {
    throw malformed(path, `must be a string, an array of strings or an array of token arrays, got ${describe(prompt)}`);
  }
  if (prompt.length === 0) throw malformed(path, 'must not be an empty array');
  if (typeof prompt[0] === 'number') {
    checkTokenArray(prompt, path);
    return n + prompt.length;
  }
  for (let i = 0; i < prompt.length; i++) {
    const item: unknown = prompt[i];
    if (typeof item === 'string') n += ctx.text(item);
    else if (Array.isArray(item)) {
      checkTokenArray(item, `${path}[${i}]`);
      n += item.length;
    } else throw malformed(`${path}[${i}]`, `must be a string or an array of token ids, got ${describe(item)}`);
  }
  return n;
}
