/**
 * Runs one request the way the real endpoint would answer it, deterministically: the same seed
 * and body give the same content. Used for batch lines (with an optional per-line fault) and for
 * the synchronous endpoints (never with a fault). Endpoints: chat completions, responses,
 * embeddings, completions, moderations.
 *
 * Usage follows the simulator's own token counter (with the scenario's drift), prompt caching
 * (./prompt-cache.ts) and, for reasoning models (gpt-5, o-series), reasoning tokens: a configured
 * share of the output, which also spends the output-token limit before the visible answer does.
 *
 * Fault shapes follow reference §1.7: HTTP failures are a non-200 `status_code` with
 * `body.error = {message, type, param, code}`; content faults are HTTP 200 bodies whose content is
 * broken (invalid JSON, schema violation, truncated, refusal, content filter).
 */
import { SERVER_ERROR_MESSAGE } from './errors.ts';
import { base62From, hashBase62, hashHex } from './ids.ts';
import { contextWindow, embeddingDimensions, EMBEDDING_MAX_INPUT_TOKENS, resolveSnapshot } from './models.ts';
import { canonicalJson, createRng, seed32, type Rng } from './random.ts';
import type { PromptCache } from './prompt-cache.ts';
import { fakeFromSchema, violateSchema } from './schema-faker.ts';
import type { TokenCounter } from './token-counter.ts';

const fingerprints = new Map<string, string>();
/** A snapshot's `system_fingerprint`: fixed per snapshot, so derived once. */
function fingerprintOf(snapshot: string): string {
  let fp = fingerprints.get(snapshot);
  if (fp === undefined) fingerprints.set(snapshot, (fp = `fp_${hashHex(10, 'fingerprint', snapshot)}`));
  return fp;
}

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
export const EXECUTABLE_ENDPOINTS = ['/v1/chat/completions', '/v1/responses', '/v1/embeddings', '/v1/completions', '/v1/moderations'] as const;

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
  usage: { prompt: number; completion: number; cached: number; reasoning: number } | null;
}

/** Inputs of an execution that are not in the request body. */
export interface ExecContext {
  seed: number;
  counter: TokenCounter;
  /** A flat cached share (overrides prompt caching when > 0). */
  cachedPromptFraction: number;
  /** Share of a reasoning model's output that is reasoning. */
  reasoningShare: number;
  /** `created` of the completion, unix seconds (wall clock). */
  createdAt: number;
  /** Distinguishes response ids of otherwise equal requests (e.g. client + custom_id + occurrence). */
  idKey: string;
  /** Bytes a chat or completions id is drawn from (a batch line passes part of its one digest); without them, a hash of `idKey`. */
  idBytes?: Buffer;
  /** Prompt caching, shared by the organization's requests; null = none. */
  cache?: { store: PromptCache; organization: string; atMs: number } | null;
  /** Content computed once per response format, not per request (the `instant` profile). */
  instant?: boolean;
  /**
   * The request's input tokens, when {@link planRequest} already ran on this body and found no
   * failure (it is not run again). Required for a body from {@link instantBody}.
   */
  promptTokens?: number;
}

/** The 29 base62 characters of a chat or completions id. */
function completionId(ctx: ExecContext, kind: string): string {
  return ctx.idBytes ? base62From(ctx.idBytes, 29) : hashBase62(29, ctx.seed, kind, ctx.idKey);
}

/** Whether a model spends reasoning tokens (gpt-5 except the chat variants, o-series). */
export function isReasoningModel(model: string): boolean {
  return /^(o\d|gpt-5)/i.test(model) && !/^gpt-5(\.\d+)?-chat/i.test(model);
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
  const rf = isObj(body.response_format) ? body.response_format : isObj(body.text) && isObj(body.text.format) ? body.text.format : undefined;
  if (!isObj(rf)) return { kind: 'text' };
  if (rf.type === 'json_object') return { kind: 'json_object' };
  if (rf.type === 'json_schema' && isObj(rf.json_schema)) return { kind: 'json_schema', schema: rf.json_schema.schema ?? {} };
  if (rf.type === 'json_schema' && isObj(rf.schema)) return { kind: 'json_schema', schema: rf.schema };
  return { kind: 'text' };
}

/** Which faults make sense for this request; others are never drawn for it. */
export function applicableFaults(endpoint: string, body: Record<string, unknown>): Set<LineFault> {
  const set = new Set<LineFault>(['http400', 'http500']);
  if (endpoint === '/v1/chat/completions' || endpoint === '/v1/responses') {
    set.add('truncated');
    if (endpoint === '/v1/chat/completions') set.add('refusal').add('contentFilter');
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
  const v = body.max_completion_tokens ?? body.max_output_tokens ?? body.max_tokens;
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
  if (endpoint === '/v1/responses') {
    if (body.input === undefined && body.instructions === undefined) {
      return httpError(400, "Missing required parameter: 'input'.", 'invalid_request_error', 'input', 'missing_required_parameter');
    }
    if (body.stream === true) {
      return httpError(400, 'Streaming is not supported in the Batch API.', 'invalid_request_error', 'stream', 'invalid_value');
    }
    const window = contextWindow(model);
    const limit = completionLimit(body) ?? 0;
    if (window !== undefined && promptTokens + limit > window) return contextLengthError(window, promptTokens, limit);
    return null;
  }
  if (endpoint === '/v1/completions') {
    if (body.prompt === undefined) return httpError(400, "Missing required parameter: 'prompt'.", 'invalid_request_error', 'prompt', 'missing_required_parameter');
    return null;
  }
  if (endpoint === '/v1/moderations') {
    if (body.input === undefined) return httpError(400, "Missing required parameter: 'input'.", 'invalid_request_error', 'input', 'missing_required_parameter');
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

/** The body field holding an endpoint's prompt, which instant execution reads only through its tokens. */
const PROMPT_FIELDS: Record<string, string> = {
  '/v1/chat/completions': 'messages',
  '/v1/responses': 'input',
  '/v1/completions': 'prompt',
};

/**
 * What instant execution (without prompt caching) needs of a request whose {@link planRequest}
 * found no failure and whose fault is not `http400`: the body without its prompt, which only
 * counts through the planned input tokens (content is not drawn from it). Null when it needs the
 * whole body (embeddings and moderations answer from their input). Run it with `instant` and the
 * planned `promptTokens`; the answer is the same as for the whole body.
 */
export function instantBody(endpoint: string, body: Record<string, unknown>): Record<string, unknown> | null {
  const field = PROMPT_FIELDS[endpoint];
  if (field === undefined || !(field in body)) return null;
  const slim: Record<string, unknown> = {};
  for (const key in body) if (key !== field) slim[key] = body[key];
  return slim;
}

/** Execute a request. `fault` must be one of {@link applicableFaults} or `none`. */
export function executeRequest(
  endpoint: string,
  body: Record<string, unknown>,
  fault: LineFault,
  ctx: ExecContext,
): ExecResult {
  const { tokens: promptTokens, failure: natural } =
    ctx.promptTokens !== undefined ? { tokens: ctx.promptTokens, failure: null } : planRequest(endpoint, body, ctx.counter);
  const failure =
    natural ??
    (fault === 'http400'
      ? faultHttp400(endpoint, body, promptTokens, ctx.seed)
      : fault === 'http500'
        ? httpError(500, SERVER_ERROR_MESSAGE, 'server_error', null, null)
        : null);
  if (failure) return { statusCode: failure.statusCode, body: { error: failure.error }, usage: null };
  switch (endpoint) {
    case '/v1/embeddings':
      return embed(body, promptTokens, ctx);
    case '/v1/responses':
      return respond(body, fault, promptTokens, ctx);
    case '/v1/completions':
      return complete(body, promptTokens, ctx);
    case '/v1/moderations':
      return moderate(body, ctx);
    default:
      return chat(body, fault, promptTokens, ctx);
  }
}

/** Cached prompt tokens of a request (flat share, or the prompt-caching rules). */
function cachedTokens(endpoint: string, body: Record<string, unknown>, promptTokens: number, ctx: ExecContext): number {
  if (ctx.cachedPromptFraction > 0) return Math.floor(promptTokens * ctx.cachedPromptFraction);
  if (!ctx.cache || !ctx.counter.prefixes) return 0;
  const model = typeof body.model === 'string' ? body.model : '';
  return Math.min(promptTokens, ctx.cache.store.use(`${ctx.cache.organization}|${model}`, ctx.counter.prefixes(endpoint, body), ctx.cache.atMs));
}

/** Reasoning tokens that come with `visible` output tokens. */
function reasoningFor(body: Record<string, unknown>, visible: number, ctx: ExecContext): number {
  const model = String(body.model);
  if (!isReasoningModel(model) || ctx.reasoningShare <= 0) return 0;
  const effort = body.reasoning_effort ?? (isObj(body.reasoning) ? body.reasoning.effort : undefined);
  if (effort === 'minimal' || effort === 'none') return 0; // ASSUMED: no reasoning at these efforts
  return Math.round((Math.max(1, visible) * ctx.reasoningShare) / (1 - ctx.reasoningShare));
}

/**
 * The generator that shapes a faulty answer, derived from the request's identity: made on first
 * use, since most answers carry no fault and deriving a seed is a hash. Later calls continue it.
 */
function faultShapeRng(ctx: ExecContext): () => Rng {
  let rng: Rng | undefined;
  return () => (rng ??= createRng(seed32(ctx.seed, 'fault-shape', ctx.idKey)));
}

const instantContent = new Map<string, { value: unknown; content: string }>();

/** The answer's content (and parsed value) for a request, deterministic. */
function generate(body: Record<string, unknown>, words: readonly string[], contentSeed: string, index: number, ctx: ExecContext): { value: unknown; content: string } {
  const rf = responseFormat(body);
  const key = `${ctx.seed}|${canonicalJson(rf)}|${index}`;
  if (ctx.instant) {
    const hit = instantContent.get(key);
    if (hit) return hit;
  }
  const rng = createRng(seed32(ctx.seed, 'content', ctx.instant ? key : contentSeed, index));
  const pool = ctx.instant ? [] : words;
  let out: { value: unknown; content: string };
  if (rf.kind === 'json_schema') {
    const value = fakeFromSchema(rf.schema, rng, pool);
    out = { value, content: JSON.stringify(value) };
  } else if (rf.kind === 'json_object') {
    const value = { answer: sentence(rng, pool), confidence: Math.round(rng.next() * 100) / 100 };
    out = { value, content: JSON.stringify(value) };
  } else {
    out = { value: undefined, content: sentence(rng, pool) };
  }
  if (ctx.instant) {
    if (instantContent.size > 1000) instantContent.clear();
    instantContent.set(key, out);
  }
  return out;
}

/**
 * Fit visible text and reasoning into the output limit: reasoning is spent first, the visible
 * answer gets what is left (possibly nothing) and is cut there.
 */
function fitOutput(
  model: string,
  text: string,
  reasoning: number,
  limit: number | undefined,
  forceTruncate: boolean,
  ctx: ExecContext,
): { text: string; visible: number; reasoning: number; truncated: boolean } {
  const full = ctx.counter.countText(model, text);
  if (forceTruncate) {
    const target = Math.max(1, Math.min(limit ?? Infinity, Math.floor(full / 2)));
    const r = Math.min(reasoning, Math.max(0, (limit ?? Infinity) - target));
    return { text: truncateToTokens(ctx.counter, model, text, target), visible: limit !== undefined ? limit - r : target, reasoning: r, truncated: true };
  }
  if (limit === undefined || full + reasoning <= limit) return { text, visible: full, reasoning, truncated: false };
  const r = Math.min(reasoning, limit);
  const room = limit - r;
  return { text: room > 0 ? truncateToTokens(ctx.counter, model, text, room) : '', visible: room, reasoning: r, truncated: true };
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
  const words = ctx.instant ? [] : wordsOf(messages.map((m) => (isObj(m) ? messageText(m.content) : '')).join(' '));
  const rf = responseFormat(body);
  const limit = completionLimit(body);
  const n = typeof body.n === 'number' ? body.n : 1;
  const contentSeed = ctx.instant ? '' : canonicalJson({ model, messages, response_format: body.response_format ?? null });
  const faultRng = faultShapeRng(ctx);

  let completionTokens = 0;
  let reasoningTokens = 0;
  const choices = Array.from({ length: n }, (_, index) => {
    const { value, content } = generate(body, words, contentSeed, index, ctx);
    let finish: string = 'stop';
    let refusal: string | null = null;
    let out: string | null = content;
    switch (fault) {
      case 'invalidJson':
        out = faultRng().next() < 0.5 ? `\`\`\`json\n${content}\n\`\`\`` : content.slice(0, Math.max(1, Math.floor(content.length / 2)));
        break;
      case 'schemaViolation':
        out = JSON.stringify(violateSchema(rf.schema, value, faultRng()));
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
      const fit = fitOutput(model, out, reasoningFor(body, ctx.counter.countText(model, out), ctx), limit, fault === 'truncated', ctx);
      out = fit.text;
      if (fit.truncated) finish = 'length';
      completionTokens += fit.visible + fit.reasoning;
      reasoningTokens += fit.reasoning;
    } else {
      const visible = refusal ? ctx.counter.countText(model, refusal) : 0;
      const r = reasoningFor(body, visible, ctx);
      completionTokens += visible + r;
      reasoningTokens += r;
    }
    return {
      index,
      message: { role: 'assistant', content: out, refusal, annotations: [] },
      logprobs: null,
      finish_reason: finish,
    };
  });

  const cached = cachedTokens('/v1/chat/completions', body, promptTokens, ctx);
  return {
    statusCode: 200,
    body: {
      id: `chatcmpl-${completionId(ctx, 'chatcmpl')}`,
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
          reasoning_tokens: reasoningTokens,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      service_tier: 'default',
      system_fingerprint: fingerprintOf(snapshot),
    },
    usage: { prompt: promptTokens, completion: completionTokens, cached, reasoning: reasoningTokens },
  };
}

/** The text of Responses input items (strings and `input_text` parts). */
function responsesText(body: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof body.instructions === 'string') parts.push(body.instructions);
  if (typeof body.input === 'string') parts.push(body.input);
  else if (Array.isArray(body.input)) for (const item of body.input) if (isObj(item)) parts.push(messageText(item.content));
  return parts.join(' ');
}

/** A `/v1/responses` answer in the Responses shape (output items, `output_text` parts). */
function respond(body: Record<string, unknown>, fault: LineFault, promptTokens: number, ctx: ExecContext): ExecResult {
  const model = String(body.model);
  const snapshot = resolveSnapshot(model);
  const rf = responseFormat(body);
  const words = ctx.instant ? [] : wordsOf(responsesText(body));
  const contentSeed = ctx.instant ? '' : canonicalJson({ model, instructions: body.instructions ?? null, input: body.input ?? null, text: body.text ?? null });
  const faultRng = faultShapeRng(ctx);
  const { value, content } = generate(body, words, contentSeed, 0, ctx);
  let text = content;
  if (fault === 'invalidJson') text = faultRng().next() < 0.5 ? `\`\`\`json\n${content}\n\`\`\`` : content.slice(0, Math.max(1, Math.floor(content.length / 2)));
  else if (fault === 'schemaViolation') text = JSON.stringify(violateSchema(rf.schema, value, faultRng()));
  const limit = completionLimit(body);
  const fit = fitOutput(model, text, reasoningFor(body, ctx.counter.countText(model, text), ctx), limit, fault === 'truncated', ctx);
  const cached = cachedTokens('/v1/responses', body, promptTokens, ctx);
  const outputTokens = fit.visible + fit.reasoning;
  const id = hashHex(48, ctx.seed, 'resp', ctx.idKey);
  const output: unknown[] = [];
  if (isReasoningModel(model) && fit.reasoning > 0) output.push({ id: `rs_${hashHex(48, ctx.seed, 'rs', ctx.idKey)}`, type: 'reasoning', summary: [] });
  if (!(fit.truncated && fit.text === '')) {
    output.push({
      id: `msg_${hashHex(48, ctx.seed, 'msg', ctx.idKey)}`,
      type: 'message',
      status: fit.truncated ? 'incomplete' : 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: fit.text, annotations: [], logprobs: [] }],
    });
  }
  const reasoning = isObj(body.reasoning) ? body.reasoning : {};
  return {
    statusCode: 200,
    body: {
      id: `resp_${id}`,
      object: 'response',
      created_at: ctx.createdAt,
      status: fit.truncated ? 'incomplete' : 'completed',
      background: false,
      error: null,
      incomplete_details: fit.truncated ? { reason: 'max_output_tokens' } : null,
      instructions: typeof body.instructions === 'string' ? body.instructions : null,
      max_output_tokens: limit ?? null,
      model: snapshot,
      output,
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: isReasoningModel(model) ? (reasoning.effort ?? 'medium') : null, summary: null },
      service_tier: 'default',
      store: body.store !== false,
      temperature: typeof body.temperature === 'number' ? body.temperature : 1,
      text: { format: isObj(body.text) && isObj(body.text.format) ? body.text.format : { type: 'text' } },
      tool_choice: body.tool_choice ?? 'auto',
      tools: Array.isArray(body.tools) ? body.tools : [],
      top_p: typeof body.top_p === 'number' ? body.top_p : 1,
      truncation: 'disabled',
      usage: {
        input_tokens: promptTokens,
        input_tokens_details: { cached_tokens: cached },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: fit.reasoning },
        total_tokens: promptTokens + outputTokens,
      },
      user: null,
      metadata: isObj(body.metadata) ? body.metadata : {},
    },
    usage: { prompt: promptTokens, completion: outputTokens, cached, reasoning: fit.reasoning },
  };
}

/** A legacy `/v1/completions` answer. */
function complete(body: Record<string, unknown>, promptTokens: number, ctx: ExecContext): ExecResult {
  const model = String(body.model);
  const prompt = typeof body.prompt === 'string' ? body.prompt : Array.isArray(body.prompt) ? body.prompt.filter((p) => typeof p === 'string').join(' ') : '';
  const { content } = generate(body, ctx.instant ? [] : wordsOf(prompt), ctx.instant ? '' : canonicalJson({ model, prompt: body.prompt }), 0, ctx);
  const fit = fitOutput(model, ` ${content}`, 0, typeof body.max_tokens === 'number' ? body.max_tokens : 16, false, ctx);
  return {
    statusCode: 200,
    body: {
      id: `cmpl-${completionId(ctx, 'cmpl')}`,
      object: 'text_completion',
      created: ctx.createdAt,
      model: resolveSnapshot(model),
      choices: [{ text: fit.text, index: 0, logprobs: null, finish_reason: fit.truncated ? 'length' : 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: fit.visible, total_tokens: promptTokens + fit.visible },
    },
    usage: { prompt: promptTokens, completion: fit.visible, cached: 0, reasoning: 0 },
  };
}

const MODERATION_CATEGORIES = [
  'harassment', 'harassment/threatening', 'hate', 'hate/threatening', 'illicit', 'illicit/violent', 'self-harm',
  'self-harm/instructions', 'self-harm/intent', 'sexual', 'sexual/minors', 'violence', 'violence/graphic',
];

/** A `/v1/moderations` answer: nothing flagged, small deterministic scores (moderation is free: no usage). */
function moderate(body: Record<string, unknown>, ctx: ExecContext): ExecResult {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const model = typeof body.model === 'string' ? body.model : 'omni-moderation-latest';
  const results = inputs.map((input) => {
    const rng = createRng(seed32(ctx.seed, 'moderation', canonicalJson(input ?? null)));
    const categories: Record<string, boolean> = {};
    const scores: Record<string, number> = {};
    const applied: Record<string, string[]> = {};
    for (const c of MODERATION_CATEGORIES) {
      categories[c] = false;
      scores[c] = Math.round(rng.next() * 1e-3 * 1e9) / 1e9;
      applied[c] = ['text'];
    }
    return { flagged: false, categories, category_scores: scores, category_applied_input_types: applied };
  });
  return {
    statusCode: 200,
    body: { id: `modr-${hashHex(32, ctx.seed, 'modr', ctx.idKey)}`, model: resolveSnapshot(model), results },
    usage: { prompt: 0, completion: 0, cached: 0, reasoning: 0 },
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
    usage: { prompt: promptTokens, completion: 0, cached: 0, reasoning: 0 },
  };
}
