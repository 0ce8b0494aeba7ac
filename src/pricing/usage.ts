/**
 * Reading token usage out of the shapes OpenAI returns, without double counting.
 *
 * - Chat Completions: `{prompt_tokens, completion_tokens, prompt_tokens_details: {cached_tokens},
 *   completion_tokens_details: {reasoning_tokens}}`.
 * - Responses: `{input_tokens, output_tokens, input_tokens_details: {cached_tokens},
 *   output_tokens_details: {reasoning_tokens}}`.
 * - Embeddings: `{prompt_tokens, total_tokens}` (no completion tokens: output is 0).
 *
 * `reasoning_tokens` are already inside `completion_tokens` / `output_tokens` and bill as output:
 * they are never added again. `cached_tokens` are already inside the prompt/input count.
 */
import type { TokenUsage } from './cost.ts';
import { UsageShapeError } from './errors/usage-shape-error.ts';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function count(obj: Record<string, unknown>, key: string, where: string, required: boolean): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw new UsageShapeError(`${where}${key} is missing`);
    return 0;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new UsageShapeError(`${where}${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function cached(details: unknown, where: string): number {
  if (details === undefined || details === null) return 0;
  if (!isRecord(details)) throw new UsageShapeError(`${where} must be an object`);
  return count(details, 'cached_tokens', `${where}.`, false);
}

function checked(u: TokenUsage, where: string): TokenUsage {
  if (u.cachedTokens > u.inputTokens) {
    throw new UsageShapeError(`${where}cached tokens (${u.cachedTokens}) exceed input tokens (${u.inputTokens})`);
  }
  return u;
}

/**
 * Token usage from an OpenAI `usage` object (Chat Completions, Responses or Embeddings shape).
 * @param where prefix for error messages, e.g. `"usage."`.
 * @throws UsageShapeError naming the bad field.
 */
export function usageFromOpenAI(usage: unknown, where = 'usage.'): TokenUsage {
  if (!isRecord(usage)) throw new UsageShapeError(`${where.replace(/\.$/, '')} must be an object`);
  if (usage.prompt_tokens !== undefined) {
    return checked(
      {
        inputTokens: count(usage, 'prompt_tokens', where, true),
        cachedTokens: cached(usage.prompt_tokens_details, `${where}prompt_tokens_details`),
        outputTokens: count(usage, 'completion_tokens', where, false),
      },
      where,
    );
  }
  if (usage.input_tokens !== undefined) {
    return checked(
      {
        inputTokens: count(usage, 'input_tokens', where, true),
        cachedTokens: cached(usage.input_tokens_details, `${where}input_tokens_details`),
        outputTokens: count(usage, 'output_tokens', where, true),
      },
      where,
    );
  }
  throw new UsageShapeError(`${where}prompt_tokens (or input_tokens) is missing`);
}

/** One past request's model and usage, read from a usage record. */
export interface UsageRecord {
  model: string;
  usage: TokenUsage;
}

/**
 * Reads a usage record in either accepted shape:
 * - flat: `{ model, input_tokens, output_tokens, cached_tokens? }`;
 * - OpenAI-usage-shaped: `{ model, usage: { prompt_tokens, completion_tokens, prompt_tokens_details: { cached_tokens } } }`
 *   (or the Responses/Embeddings usage shapes, see {@link usageFromOpenAI}).
 * @throws UsageShapeError naming the bad field.
 */
export function usageRecordFrom(value: unknown): UsageRecord {
  if (!isRecord(value)) throw new UsageShapeError('not a JSON object');
  const model = value.model;
  if (model === undefined || model === null) throw new UsageShapeError('model is missing');
  if (typeof model !== 'string' || model.trim() === '') throw new UsageShapeError('model must be a non-empty string');
  if (value.usage !== undefined) return { model, usage: usageFromOpenAI(value.usage, 'usage.') };
  return {
    model,
    usage: checked(
      {
        inputTokens: count(value, 'input_tokens', '', true),
        cachedTokens: count(value, 'cached_tokens', '', false),
        outputTokens: count(value, 'output_tokens', '', true),
      },
      '',
    ),
  };
}
