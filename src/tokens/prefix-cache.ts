/**
 * Counting each distinct request prefix once. Most batch requests of a task share their leading
 * system/developer messages, tools, functions, tool choice and response format; only the rest
 * (the user's content) differs. A chat body's count is additive (cookbook rule: the reply
 * priming plus a sum over messages, plus tools, functions, tool choice and format), so it splits
 * exactly into `prefix + rest`. The prefix's count is cached under a SHA-256 of its JSON and the
 * model, in a bounded LRU (fixed-size keys, so the memory is bounded by the entry count); the
 * rest is counted in one pass. Totals are identical to counting the body whole.
 */
import { hash } from 'node:crypto';
import { countChatMessage } from './chat-messages.ts';
import type { CountContext } from './count-context.ts';
import { countChatCompletionsBody } from './chat-completions.ts';
import { LruCache } from './lru-cache.ts';
import { countResponseFormat } from './response-format.ts';
import { countFunctions, countToolChoice, countTools } from './tools.ts';

/** Roles whose leading run of messages belongs to the shared prefix. */
const PREFIX_ROLES = new Set(['system', 'developer']);

/** Prefix counts of chat bodies, keyed by content hash. */
export class PrefixCache {
  private readonly lru: LruCache<string, number>;
  /** The last prefix text seen and its key (one entry: its memory is one prefix). */
  private lastText = '';
  private lastKey = '';
  hits = 0;
  misses = 0;

  /** @param capacity most prefixes remembered; each entry holds a 44-character key and a number. */
  constructor(capacity: number) {
    this.lru = new LruCache<string, number>(capacity);
  }

  get size(): number {
    return this.lru.size;
  }

  /**
   * Input tokens of a `/v1/chat/completions` body, equal to {@link countChatCompletionsBody}. A body
   * without a shareable prefix, or whose messages are not a non-empty array, is counted whole (so
   * malformed bodies get the same errors).
   */
  countChat(ctx: CountContext, model: string, body: Record<string, unknown>): number {
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) return countChatCompletionsBody(ctx, body);
    let k = 0;
    while (k < messages.length && isPrefixMessage(messages[k])) k++;
    const hasBlocks =
      body.tools != null || body.functions != null || body.tool_choice != null || body.function_call != null || body.response_format != null;
    if (k === 0 && !hasBlocks) return countChatCompletionsBody(ctx, body);

    const o = ctx.profile.chat;
    const text = prefixKey(model, messages, k, body);
    // Consecutive requests of a task nearly always share their prefix: comparing its text with the
    // last one's is much cheaper than hashing it again.
    if (text !== this.lastText) {
      this.lastText = text;
      this.lastKey = hash('sha256', text, 'base64');
    }
    const key = this.lastKey;
    let prefix = this.lru.get(key);
    if (prefix === undefined) {
      this.misses++;
      prefix = 0;
      for (let i = 0; i < k; i++) prefix += countChatMessage(ctx, messages[i], `body.messages[${i}]`, o);
      prefix += countTools(ctx, body.tools, 'body.tools');
      prefix += countFunctions(ctx, body.functions, 'body.functions');
      prefix += countToolChoice(ctx, body.tool_choice) + countToolChoice(ctx, body.function_call);
      prefix += countResponseFormat(ctx, body.response_format, 'body.response_format');
      this.lru.set(key, prefix);
    } else {
      this.hits++;
    }
    let n = o.replyPriming + o.requestExtra + prefix;
    const rest = ctx.unshared ?? ctx;
    for (let i = k; i < messages.length; i++) n += countChatMessage(rest, messages[i], `body.messages[${i}]`, o);
    return n;
  }
}

/**
 * The text hashed for a prefix: every part length-prefixed, so no two different prefixes can
 * produce the same text. Plain `{role, content}` messages skip JSON.stringify (the common case).
 */
function prefixKey(model: string, messages: unknown[], k: number, body: Record<string, unknown>): string {
  let s = `${model.length}:${model}`;
  for (let i = 0; i < k; i++) {
    const m = messages[i] as Record<string, unknown>;
    let part: string;
    if (typeof m.content === 'string' && isPlain(m)) part = `m${(m.role as string).length}:${m.role as string}${m.content.length}:${m.content}`;
    else {
      const json = JSON.stringify(m);
      part = `j${json.length}:${json}`;
    }
    s += part;
  }
  for (const value of [body.tools, body.functions, body.tool_choice, body.function_call, body.response_format]) {
    if (value === undefined || value === null) s += '-';
    else {
      const json = JSON.stringify(value) ?? '';
      s += `${json.length}:${json}`;
    }
  }
  return s;
}

/** A message with exactly the keys role and content. */
function isPlain(m: Record<string, unknown>): boolean {
  let n = 0;
  for (const key in m) {
    if (key !== 'role' && key !== 'content') return false;
    n++;
  }
  return n === 2;
}

function isPrefixMessage(m: unknown): boolean {
  return typeof m === 'object' && m !== null && PREFIX_ROLES.has((m as { role?: unknown }).role as string);
}
