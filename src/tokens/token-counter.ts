import { describe, isRecord } from './body-shape.ts';
import { countChatCompletionsBody } from './chat-completions.ts';
import { countCompletionsBody } from './completions.ts';
import type { CountContext } from './count-context.ts';
import { countEmbeddingsBody } from './embeddings.ts';
import type { EncodingName } from './encodings.ts';
import { TokenEstimationError } from './errors.ts';
import { LruCache } from './lru-cache.ts';
import { modelProfile } from './model-profile.ts';
import { PrefixCache } from './prefix-cache.ts';
import { countResponsesBody } from './responses.ts';
import { DEFAULT_MAX_TEXT_LENGTH, TextTokenizer } from './text-tokenizer.ts';

/** Batch endpoints whose request bodies {@link TokenCounter.countRequest} understands. */
export const SUPPORTED_ENDPOINTS = [
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/completions',
] as const;

/** One of {@link SUPPORTED_ENDPOINTS}. */
export type SupportedEndpoint = (typeof SUPPORTED_ENDPOINTS)[number];

/** Options of {@link createTokenCounter}. */
export interface TokenCounterOptions {
  /**
   * Maximum number of entries in the LRU of token counts of long strings (system prompts, schemas) and
   * tool lists. 0 disables the cache (results are identical, only slower).
   * @defaultValue 10_000
   */
  cacheSize?: number;
  /**
   * Strings at least this long are looked up in / added to the LRU; shorter ones are cheaper to count
   * than to hash.
   * @defaultValue 64
   */
  minCachedLength?: number;
  /**
   * Upper bound on the characters held by cache keys, so 10,000 cached 100 kB documents cannot pin a GB.
   * @defaultValue 16_000_000
   */
  cacheMaxChars?: number;
  /**
   * Split text into BPE pieces with a JS port of tiktoken's regex and memoise per-piece counts (exact, and
   * about 10x faster than the WASM encoder alone). Set false to hand every string whole to the encoder.
   * @defaultValue true
   */
  fastSplit?: boolean;
  /**
   * Most distinct chat request prefixes (leading system/developer messages, tools, functions, tool choice and
   * response format) whose count is remembered, keyed by a hash of their content, so a prefix shared by many
   * requests is counted once and only the rest of each request is counted. 0 disables it (identical results).
   * @defaultValue 1_000
   */
  prefixCacheSize?: number;
  /**
   * Longest text (UTF-16 code units) one string may have; longer ones throw a {@link TokenEstimationError}
   * with code `INPUT_TOO_LARGE`. Bounds the time and memory of one count.
   * @defaultValue 4_000_000
   */
  maxTextLength?: number;
}

/** Cache and tokenizer counters, for tests and metrics. */
export interface TokenCounterStats {
  /** Long strings and tool lists served from the LRU. */
  cacheHits: number;
  /** Long strings and tool lists that had to be counted (then cached). */
  cacheMisses: number;
  /** Entries currently in the LRU. */
  cacheEntries: number;
  /** {@link TokenCounterOptions.cacheSize}. */
  cacheCapacity: number;
  /** Strings actually run through the tokenizer (not served from the LRU). */
  textsTokenized: number;
  /** Calls into the tiktoken WASM encoder (only for text pieces never seen before). */
  encoderCalls: number;
  /** Chat requests whose shared prefix was served from the prefix cache. */
  prefixHits: number;
  /** Chat requests whose prefix had to be counted (then cached). */
  prefixMisses: number;
  /** Prefixes currently cached. */
  prefixEntries: number;
}

/** Counts the input tokens of one batch request body for an endpoint ('/v1/chat/completions' | '/v1/embeddings' | '/v1/responses' | '/v1/completions'). */
export interface TokenCounter {
  /**
   * Estimated input tokens of one request `body` sent to `endpoint`. Exact where OpenAI's rule is
   * published and verified; elsewhere it errs high (see the module docs for each guess).
   * @throws TokenEstimationError for an unsupported endpoint, a malformed body, or input that cannot be
   *   estimated (audio, files, server-side context); the message names the offending field.
   */
  countRequest(endpoint: string, body: Record<string, unknown>): number;
  /** Tokens of plain `text` in `model`'s encoding (no chat formatting). */
  countText(model: string, text: string): number;
  /** Snapshot of the cache and tokenizer counters. */
  stats(): TokenCounterStats;
}

const DEFAULT_CACHE_SIZE = 10_000;
const DEFAULT_MIN_CACHED_LENGTH = 64;
const DEFAULT_CACHE_MAX_CHARS = 16_000_000;
const DEFAULT_PREFIX_CACHE_SIZE = 1_000;
/** Per-model contexts are memoised; past this many distinct model names the memo is reset. */
const MAX_MODEL_CONTEXTS = 1_000;

/** Cache-key tags: lower case for text, upper case for blocks, so the two can never collide. */
const TEXT_TAG: Record<EncodingName, string> = { o200k_base: 'o', cl100k_base: 'c' };
const BLOCK_TAG: Record<EncodingName, string> = { o200k_base: 'O', cl100k_base: 'C' };

/**
 * Creates a {@link TokenCounter}. Each counter owns its LRU and piece caches; the tiktoken encoders are
 * process-wide singletons. Counting is synchronous and CPU-bound: create one counter per worker and reuse it.
 */
export function createTokenCounter(options: TokenCounterOptions = {}): TokenCounter {
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  const minCachedLength = options.minCachedLength ?? DEFAULT_MIN_CACHED_LENGTH;
  const cacheMaxChars = options.cacheMaxChars ?? DEFAULT_CACHE_MAX_CHARS;
  checkOption('cacheSize', cacheSize);
  checkOption('minCachedLength', minCachedLength);
  checkOption('cacheMaxChars', cacheMaxChars);
  const prefixCacheSize = options.prefixCacheSize ?? DEFAULT_PREFIX_CACHE_SIZE;
  checkOption('prefixCacheSize', prefixCacheSize);
  const prefixes = prefixCacheSize > 0 ? new PrefixCache(prefixCacheSize) : undefined;
  if (options.maxTextLength !== undefined) checkOption('maxTextLength', options.maxTextLength);

  // Key: encoding tag + text (or block tag + kind + serialization); value: token count.
  const cache = new LruCache<string, number>(cacheSize, { maxWeight: cacheMaxChars, weigh: (k) => k.length });
  const tokenizers = new Map<EncodingName, TextTokenizer>();
  const contexts = new Map<string, CountContext>();
  let cacheHits = 0;
  let cacheMisses = 0;
  let textsTokenized = 0;

  function tokenizer(encoding: EncodingName): TextTokenizer {
    let t = tokenizers.get(encoding);
    if (t === undefined) {
      t = new TextTokenizer(encoding, options.fastSplit ?? true, options.maxTextLength ?? DEFAULT_MAX_TEXT_LENGTH);
      tokenizers.set(encoding, t);
    }
    return t;
  }

  function contextFor(model: string): CountContext {
    let ctx = contexts.get(model);
    if (ctx !== undefined) return ctx;
    const profile = modelProfile(model);
    const tok = tokenizer(profile.encoding);
    const textTag = TEXT_TAG[profile.encoding];
    const blockTag = BLOCK_TAG[profile.encoding];
    ctx = {
      profile,
      unshared: undefined as CountContext | undefined,
      text(text: string): number {
        if (text.length < minCachedLength || cacheSize === 0) {
          textsTokenized++;
          return tok.count(text);
        }
        const key = textTag + text;
        const hit = cache.get(key);
        if (hit !== undefined) {
          cacheHits++;
          return hit;
        }
        cacheMisses++;
        textsTokenized++;
        const n = tok.count(text);
        cache.set(key, n);
        return n;
      },
      block(kind: string, key: string, compute: () => number): number {
        if (cacheSize === 0) return compute();
        const k = `${blockTag}${kind}:${key}`;
        const hit = cache.get(k);
        if (hit !== undefined) {
          cacheHits++;
          return hit;
        }
        cacheMisses++;
        const n = compute();
        cache.set(k, n);
        return n;
      },
    };
    const shared = ctx;
    ctx.unshared = {
      profile,
      text(text: string): number {
        textsTokenized++;
        return tok.count(text);
      },
      block: (kind: string, key: string, compute: () => number) => shared.block(kind, key, compute),
    };
    if (contexts.size >= MAX_MODEL_CONTEXTS) contexts.clear();
    contexts.set(model, ctx);
    return ctx;
  }

  function modelOf(body: Record<string, unknown>): string {
    const model = body.model;
    if (typeof model !== 'string' || model.trim().length === 0) {
      throw new TokenEstimationError(`body.model must be a non-empty string, got ${describe(model)}`, {
        code: 'MALFORMED_BODY',
        path: 'body.model',
      });
    }
    return model;
  }

  return {
    countRequest(endpoint: string, body: Record<string, unknown>): number {
      if (!isRecord(body)) {
        throw new TokenEstimationError(`body must be a JSON object, got ${describe(body)}`, { code: 'MALFORMED_BODY', path: 'body' });
      }
      switch (endpoint) {
        case '/v1/chat/completions': {
          const model = modelOf(body);
          return prefixes ? prefixes.countChat(contextFor(model), model, body) : countChatCompletionsBody(contextFor(model), body);
        }
        case '/v1/embeddings':
          return countEmbeddingsBody(contextFor(modelOf(body)), body);
        case '/v1/responses':
          return countResponsesBody(contextFor(modelOf(body)), body);
        case '/v1/completions':
          return countCompletionsBody(contextFor(modelOf(body)), body);
        default:
          throw new TokenEstimationError(
            `unsupported endpoint ${JSON.stringify(endpoint)}; supported: ${SUPPORTED_ENDPOINTS.join(', ')}`,
            { code: 'UNSUPPORTED_ENDPOINT', path: 'url' },
          );
      }
    },

    countText(model: string, text: string): number {
      if (typeof model !== 'string' || model.trim().length === 0) {
        throw new TokenEstimationError(`model must be a non-empty string, got ${describe(model)}`, { code: 'INVALID_ARGUMENT' });
      }
      if (typeof text !== 'string') {
        throw new TokenEstimationError(`text must be a string, got ${describe(text)}`, { code: 'INVALID_ARGUMENT' });
      }
      return contextFor(model).text(text);
    },

    stats(): TokenCounterStats {
      let encoderCalls = 0;
      for (const t of tokenizers.values()) encoderCalls += t.encoderCalls;
      return {
        cacheHits,
        cacheMisses,
        cacheEntries: cache.size,
        cacheCapacity: cacheSize,
        textsTokenized,
        encoderCalls,
        prefixHits: prefixes?.hits ?? 0,
        prefixMisses: prefixes?.misses ?? 0,
        prefixEntries: prefixes?.size ?? 0,
      };
    },
  };
}

function checkOption(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new TokenEstimationError(`${name} must be a non-negative integer, got ${String(value)}`, { code: 'INVALID_ARGUMENT' });
  }
}
