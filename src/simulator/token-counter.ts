/**
 * The one place the simulator gets token counts from: the project's own counter, so that
 * `usage.prompt_tokens` and the enqueued-token limit agree with what the fleet itself estimates.
 */
import { createTokenCounter } from '../tokens/index.ts';

/** What the simulator needs from a token counter. */
export interface TokenCounter {
  /** Input tokens of one request body sent to `endpoint` (e.g. `/v1/chat/completions`). */
  countRequest(endpoint: string, body: Record<string, unknown>): number;
  /** Tokens of `text` for `model`. */
  countText(model: string, text: string): number;
}

/** The project's token counter. */
export function defaultTokenCounter(): TokenCounter {
  return createTokenCounter();
}
