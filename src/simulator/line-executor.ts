/**
 * Runs one request the way the real endpoint would answer it, deterministically: the same seed
 * and body give the same content. Used for batch lines (with an optional per-line fault) and for
 * the synchronous `/v1/chat/completions` and `/v1/embeddings` endpoints (never with a fault).
 *
 * Fault shapes follow reference §1.7: HTTP failures are a non-200 `status_code` with
 * `body.error = {message, type, param, code}`; content faults are HTTP 200 bodies whose content is
 * broken (invalid JSON, schema violation, truncated, refusal, content filter).
 */
import { SERVER_ERROR_MESSAGE } from './errors.ts';
import { hashBase62, hashHex } from './ids.ts';
import { contextWindow, embeddingDimensions, EMBEDDING_MAX_INPUT_TOKENS, resolveSnapshot } from './models.ts';
import { canonicalJson, createRng, seed32, type Rng } from './random.ts';
import { fakeFromSchema, violateSchema } from './schema-faker.ts';
import type { TokenCounter } from './token-counter.ts';

/** Per-line faults, in the order their rates are stacked when one is drawn. */
export const LINE_FAULTS = [
  'none',
  'http400',
  'http500',
  'invalidJson',
  'schemaViolation',
  'truncated',
  'refusal',
  'contentFilter',
] as const;
/** A per-line fault, or `none`. */
export type LineFault = (typeof LINE_FAULTS)[number];

/** Endpoints whose requests the simulator can execute. */
export const EXECUTABLE_ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings'] as const;

/** An HTTP-level failure of the underlying endpoint. */
export interface HttpLineError {
  statusCode: number;
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** What executing a request produced. */
export interface ExecResult {
  statusCode: number;
  body: Record<string, unknown>;
  /** Token usage of a 200 answer; null for HTTP errors (not billed). */
  usage: { prompt: number; completion: number; cached: number } | null;
}

/** Inputs of an execution that are not in the request body. */
export interface ExecContext {
  seed: number;
  counter: TokenCounter;
  cachedPromptFraction: number;
  /** `created` of the completion, unix seconds. */
  createdAt: number;
  /** Distinguishes response ids of otherwise equal requests (e.g. client + custom_id + occurrence). */
  idKey: string;
}

/** `message.refusal` of a refusal fault. */
export const REFUSAL_TEXT = "I'm sorry, but I can't help with that request.";

/** Real message of a 400 `invalid_prompt` (reference §1.7, sbintuitions/flexeval PR#86). */
export const INVALID_PROMPT_MESSAGE =
  "Sorry! We've encountered an issue with repetitive patterns in your prompt. Please try again with a different prompt.";

const FILLER = [
  'the', 'request', 'was', 'processed', 'and', 'this', 'simulated', 'answer', 'covers', 'its', 'main', 'points',
  'briefly', 'with', 'a', 'clear', 'and', 'useful', 'summary', 'of', 'what', 'matters', 'most', 'here',
];

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function httpError(statusCode: number, message: string, type: string, param: string | null, code: string | null): HttpLineError {
  return { statusCode, error: { message, type, param, code } };
}

/** The text of a chat message's content (string or array of parts). */
function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : ''))
      .filter(Boolean)
      .join(' ');
  }
  return '';
}

function wordsOf(text: string): string[] {
  return (text.toLowerCase().match(/[a-z][a-z'-]{2,}/g) ?? []).slice(0, 60);
}

function responseFormat(body: Record<string, unknown>): { kind: 'text' | 'json_object' | 'json_schema'; schema?: unknown } {
  const rf = body.response_format;
  if (!isObj(rf)) return { kind: 'text' };
  if (rf.type === 'json_object') return { kind: 'json_object' };
  if (rf.type === 'json_schema' && isObj(rf.json_schema)) return { kind: 'json_schema', schema: rf.json_schema.schema ?? {} };
  return { kind: 'text' };
}

/** Which faults make sense for this request; others are never drawn for it. */
export function applicableFaults(endpoint: string, body: Record<string, unknown>): Set<LineFault> {
  const set = new Set<LineFault>(['http400', 'http500']);
  if (endpoint === '/v1/chat/completions') {
    set.add('truncated').add('refusal').add('contentFilter');
    const rf = responseFormat(body);
    if (rf.kind !== 'text') set.add('invalidJson');
    if (rf.kind === 'json_schema') set.add('schemaViolation');
  }
  return set;
}

function embeddingInputs(input: unknown): Array<string | number[]> | null {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input)) {
    if (input.length === 0) return null;
    if (input.every((x) => typeof x === 'number')) return [input as number[]];
    if (input.every((x) => typeof x === 'string' || (Array.isArray(x) && x.every((y) => typeof y === 'number')))) {
      return input as Array<string | number[]>;
    }
  }
  return null;
}

/** Number of embedding inputs in a request body (for the per-batch 50,000 limit). */
export function embeddingInputCount(body: Record<string, unknown>): number {
  return embeddingInputs(body.input)?.length ?? 0;
}

function completionLimit(body: Record<string, unknown>): number | undefined {
  const v = body.max_completion_tokens ?? body.max_tokens;
  return typeof v === 'number' && v > 0 ? Math.floor(v) : undefined;
}

/**
 * Errors the real endpoint would return for this body regardless of any fault: a missing
 * parameter, `stream: true`, a prompt longer than the model's context window.
 */
export function precheck(
  endpoint: string,
  body: Record<string, unknown>,
  promptTokens: number,
  counter: TokenCounter,
): HttpLineError | null {
  const model = typeof body.model === 'string' ? body.model : '';
  if (!model) return httpError(400, "Missing required parameter: 'model'.", 'invalid_request_error', 'model', 'missing_required_parameter');
  if (endpoint === '/v1/chat/completions') {
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return httpError(400, "Missing required parameter: 'messages'.", 'invalid_request_error', 'messages', 'missing_required_parameter');
    }
    if (body.stream === true) {
      return httpError(400, 'Streaming is not supported in the Batch API.', 'invalid_request_error', 'stream', 'invalid_value');
    }
    const n = body.n ?? 1;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128) {
      return httpError(400, `Invalid 'n': expected an integer between 1 and 128.`, 'invalid_request_error', 'n', 'invalid_value');
    }
    const window = contextWindow(model);
    const limit = completionLimit(body) ?? 0;
    if (window !== undefined && promptTokens + limit > window) return contextLengthError(window, promptTokens, limit);
    return null;
  }
  if (endpoint === '/v1/embeddings') {
    const inputs = embeddingInputs(body.input);
    if (!inputs) {
      return body.input === undefined
        ? httpError(400, "Missing required parameter: 'input'.", 'invalid_request_error', 'input', 'missing_required_parameter')
        : httpError(400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'invalid_request_error', null, null);
    }
    for (const item of inputs) {
      const n = typeof item === 'string' ? counter.countText(model, item) : item.length;
      if (n > EMBEDDING_MAX_INPUT_TOKENS) return embeddingTooLong(n);
      if (typeof item === 'string' && item.length === 0) {
        return httpError(400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'invalid_request_error', null, null);
      }
    }
    return null;
  }
  return httpError(404, `Invalid URL (POST ${endpoint})`, 'invalid_request_error', null, null);
}

function contextLengthError(window: number, prompt: number, completion: number): HttpLineError {
  return httpError(
    400,
    `This model's maximum context length is ${window} tokens. However, you requested ${prompt + completion} tokens (${prompt} in the messages, ${completion} in the completion). Please reduce the length of the messages or completion.`,
    'invalid_request_error',
    'messages',
    'context_length_exceeded',
  );
}

function embeddingTooLong(n: number): HttpLineError {
  return httpError(
    400,
    `This model's maximum context length is ${EMBEDDING_MAX_INPUT_TOKENS} tokens, however you requested ${n} tokens (${n} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.`,
    'invalid_request_error',
    'input',
    'context_length_exceeded',
  );
}

/** The 400 a `http400` fault produces: one of two real error kinds, chosen from the body. */
function faultHttp400(endpoint: string, body: Record<string, unknown>, promptTokens: number, seed: number): HttpLineError {
  if (endpoint === '/v1/embeddings') return embeddingTooLong(EMBEDDING_MAX_INPUT_TOKENS + 1 + (promptTokens % 1000));
  const rng = createRng(seed32(seed, 'http400-kind', canonicalJson(body)));
  if (rng.next() < 0.5) {
    const window = contextWindow(String(body.model)) ?? 128_000;
    return contextLengthError(window, promptTokens, Math.max(completionLimit(body) ?? 0, window - promptTokens + 1));
  }
  return httpError(400, INVALID_PROMPT_MESSAGE, 'invalid_request_error', 'prompt', 'invalid_prompt');
}

/**
 * Count a request's input tokens and find the error the real endpoint would return for it
 * (before any fault). A body the token counter cannot read is a 400, like on the real endpoint.
 */
export function planRequest(
  endpoint: string,
  body: Record<string, unknown>,
  counter: TokenCounter,
): { tokens: number; failure: HttpLineError | null } {
  let tokens: number;
  try {
    tokens = counter.countRequest(endpoint, body);
  } catch (err) {
    const failure =
      precheck(endpoint, body, 0, counter) ??
      httpError(400, `Invalid request body: ${(err as Error).message}`, 'invalid_request_error', null, null);
    return { tokens: 0, failure };
  }
  return { tokens, failure: precheck(endpoint, body, tokens, counter) };
}

/** Execute a request. `fault` must be one of {@link applicableFaults} or `none`. */
export function executeRequest(
  endpoint: string,
  body: Record<string, unknown>,
  fault: LineFault,
  ctx: ExecContext,
): ExecResult {
  const { tokens: promptTokens, failure: natural } = planRequest(endpoint, body, ctx.counter);
  const failure =
    natural ??
    (fault === 'http400'
      ? faultHttp400(endpoint, body, promptTokens, ctx.seed)
      : fault === 'http500'
        ? httpError(500, SERVER_ERROR_MESSAGE, 'server_error', null, null)
        : null);
  if (failure) return { statusCode: failure.statusCode, body: { error: failure.error }, usage: null };
  return endpoint === '/v1/embeddings' ? embed(body, promptTokens, ctx) : chat(body, fault, promptTokens, ctx);
}

function sentence(rng: Rng, words: readonly string[]): string {
  const n = rng.int(8, 28);
  const pool = words.length > 0 ? words : FILLER;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(rng.next() < 0.55 ? rng.pick(pool) : rng.pick(FILLER));
  const text = out.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/** Cut `text` to at most `maxTokens` tokens (binary search on the character length). */
function truncateToTokens(counter: TokenCounter, model: string, text: string, maxTokens: number): string {
  if (counter.countText(model, text) <= maxTokens) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (counter.countText(model, text.slice(0, mid)) <= maxTokens) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo);
}

function chat(body: Record<string, unknown>, fault: LineFault, promptTokens: number, ctx: ExecContext): ExecResult {
  const model = String(body.model);
  const snapshot = resolveSnapshot(model);
  const messages = body.messages as unknown[];
  const text = messages.map((m) => (isObj(m) ? messageText(m.content) : '')).join(' ');
  const words = wordsOf(text);
  const rf = responseFormat(body);
  const limit = completionLimit(body);
  const n = typeof body.n === 'number' ? body.n : 1;
  const contentSeed = canonicalJson({ model, messages, response_format: body.response_format ?? null });
  const faultRng = createRng(seed32(ctx.seed, 'fault-shape', ctx.idKey));

  let completionTokens = 0;
  const choices = Array.from({ length: n }, (_, index) => {
    const rng = createRng(seed32(ctx.seed, 'content', contentSeed, index));
    let value: unknown;
    let content: string;
    if (rf.kind === 'json_schema') {
      value = fakeFromSchema(rf.schema, rng, words);
      content = JSON.stringify(value);
    } else if (rf.kind === 'json_object') {
      value = { answer: sentence(rng, words), confidence: Math.round(rng.next() * 100) / 100 };
      content = JSON.stringify(value);
    } else {
      content = sentence(rng, words);
    }
    let finish: string = 'stop';
    let refusal: string | null = null;
    let out: string | null = content;
    let tokens: number;
    switch (fault) {
      case 'invalidJson':
        out = faultRng.next() < 0.5 ? `\`\`\`json\n${content}\n\`\`\`` : content.slice(0, Math.max(1, Math.floor(content.length / 2)));
        break;
      case 'schemaViolation':
        out = JSON.stringify(violateSchema(rf.schema, value, faultRng));
        break;
      case 'refusal':
        out = null;
        refusal = REFUSAL_TEXT;
        break;
      case 'contentFilter':
        out = null;
        finish = 'content_filter';
        break;
      default:
        break;
    }
    if (out !== null) {
      const full = ctx.counter.countText(model, out);
      const target = fault === 'truncated' ? Math.max(1, Math.min(limit ?? Infinity, Math.floor(full / 2))) : limit;
      if (target !== undefined && full > target) {
        out = truncateToTokens(ctx.counter, model, out, target);
        finish = 'length';
        tokens = limit !== undefined && fault !== 'truncated' ? limit : target;
      } else {
        tokens = full;
      }
    } else {
      tokens = refusal ? ctx.counter.countText(model, refusal) : 0;
    }
    completionTokens += tokens;
    return {
      index,
      message: { role: 'assistant', content: out, refusal, annotations: [] },
      logprobs: null,
      finish_reason: finish,
    };
  });

  const cached = Math.floor(promptTokens * ctx.cachedPromptFraction);
  return {
    statusCode: 200,
    body: {
      id: `chatcmpl-${hashBase62(29, ctx.seed, 'chatcmpl', ctx.idKey)}`,
      object: 'chat.completion',
      created: ctx.createdAt,
      model: snapshot,
      choices,
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      service_tier: 'default',
      system_fingerprint: `fp_${hashHex(10, 'fingerprint', snapshot)}`,
    },
    usage: { prompt: promptTokens, completion: completionTokens, cached },
  };
}

/** A deterministic unit vector for one input. */
export function embeddingVector(seed: number, model: string, input: string | number[], dims: number): Float32Array {
  const rng = createRng(seed32(seed, 'embedding', model, typeof input === 'string' ? input : input.join(',')));
  const v = new Float32Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    const x = rng.next() + rng.next() + rng.next() - 1.5;
    v[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dims; i++) v[i] = (v[i] ?? 0) / norm;
  return v;
}

function embed(body: Record<string, unknown>, promptTokens: number, ctx: ExecContext): ExecResult {
  const model = String(body.model);
  const inputs = embeddingInputs(body.input) ?? [];
  const dims = typeof body.dimensions === 'number' && body.dimensions > 0 ? Math.floor(body.dimensions) : embeddingDimensions(model);
  const base64 = body.encoding_format === 'base64';
  const data = inputs.map((input, index) => {
    const v = embeddingVector(ctx.seed, model, input, dims);
    const embedding = base64
      ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
      : Array.from(v, (x) => Math.round(x * 1e9) / 1e9);
    return { object: 'embedding', index, embedding };
  });
  return {
    statusCode: 200,
    body: { object: 'list', data, model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } },
    usage: { prompt: promptTokens, completion: 0, cached: 0 },
  };
}
