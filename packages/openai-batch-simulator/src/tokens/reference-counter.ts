/**
 * The simulator's own token truth, written from OpenAI's published rules and nothing else:
 * - tiktoken encodings (`o200k_base` for gpt-4o, gpt-4.1, gpt-5, o-series; `cl100k_base` for
 *   gpt-4, gpt-3.5 and the embedding models);
 * - the chat overheads of the cookbook's `num_tokens_from_messages`: 3 per message, 1 per `name`,
 *   3 to prime the reply (4 and −1 for gpt-3.5-turbo-0301). OpenAI measures 124 for the
 *   cookbook's messages on gpt-4o, gpt-4.1, gpt-5 and o3 alike, so o200k models share them;
 * - the cookbook's `num_tokens_for_tools` for function definitions;
 * - the image formulas per model family (./images.ts).
 * Where OpenAI publishes nothing, the rule is ASSUMED and listed in the README: the Responses API
 * is counted like chat (instructions = a system message, each input item = a message); a
 * `json_schema` response format costs the tokens of its schema's JSON; other non-text message
 * values cost the tokens of their JSON; a remote image URL has `remoteImageSize`.
 */
import { get_encoding, type Tiktoken } from 'tiktoken';
import { dataUrlImageSize, imageTokens, type ImageSize } from './images.ts';

/** What the simulator needs from a token counter (inject your own through `startSimulator`). */
export interface TokenCounter {
  /** Input tokens of one request body sent to `endpoint` (e.g. `/v1/chat/completions`). */
  countRequest(endpoint: string, body: Record<string, unknown>): number;
  /** Tokens of `text` for `model`. */
  countText(model: string, text: string): number;
  /**
   * Cumulative token counts at the prompt's cacheable boundaries (after the tools, after each
   * message), each with a key that identifies that exact prefix. Used for prompt caching; a
   * counter without it never reports cached tokens.
   */
  prefixes?(endpoint: string, body: Record<string, unknown>): Array<{ key: string; tokens: number }>;
}

/** Options of {@link createReferenceCounter}. */
export interface ReferenceCounterOptions {
  /** Assumed size of an image given by remote URL (it is never fetched). @defaultValue 1024×1024 */
  remoteImageSize?: ImageSize;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The tiktoken encoding OpenAI documents for a model. */
export function encodingFor(model: string): 'o200k_base' | 'cl100k_base' {
  return /^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss|codex|omni-moderation|computer-use)/i.test(model)
    ? 'o200k_base'
    : 'cl100k_base';
}

const encoders = new Map<string, Tiktoken>();
function encoder(model: string): Tiktoken {
  const name = encodingFor(model);
  let enc = encoders.get(name);
  if (!enc) {
    enc = get_encoding(name);
    encoders.set(name, enc);
  }
  return enc;
}

/** Tokens of `text` with the model's encoding (special-token text counts as ordinary text). */
export function textTokens(model: string, text: string): number {
  if (text.length === 0) return 0;
  return encoder(model).encode_ordinary(text).length;
}

function overheads(model: string): { perMessage: number; perName: number; reply: number } {
  return /^gpt-3\.5-turbo-0301/.test(model) ? { perMessage: 4, perName: -1, reply: 3 } : { perMessage: 3, perName: 1, reply: 3 };
}

/** Cookbook `num_tokens_for_tools` (function tools; `func_init` 7 on o200k, 10 on cl100k). */
function toolsTokens(model: string, tools: unknown): number {
  if (!Array.isArray(tools) || tools.length === 0) return 0;
  const funcInit = encodingFor(model) === 'o200k_base' ? 7 : 10;
  const propInit = 3;
  const propKey = 3;
  const enumInit = -3;
  const enumItem = 3;
  const funcEnd = 12;
  let n = 0;
  for (const tool of tools) {
    if (!isObj(tool)) continue;
    // Chat tools nest the function; Responses tools are flat.
    const fn = isObj(tool.function) ? tool.function : tool;
    const name = typeof fn.name === 'string' ? fn.name : '';
    const desc = typeof fn.description === 'string' ? fn.description.replace(/\.$/, '') : '';
    n += funcInit + textTokens(model, `${name}:${desc}`);
    const params = isObj(fn.parameters) ? fn.parameters : undefined;
    const props = isObj(params?.properties) ? params.properties : undefined;
    if (props && Object.keys(props).length > 0) {
      n += propInit;
      for (const [key, raw] of Object.entries(props)) {
        const p = isObj(raw) ? raw : {};
        n += propKey;
        if (Array.isArray(p.enum)) {
          n += enumInit;
          for (const item of p.enum) n += enumItem + textTokens(model, String(item));
        }
        const pDesc = typeof p.description === 'string' ? p.description.replace(/\.$/, '') : '';
        n += textTokens(model, `${key}:${typeof p.type === 'string' ? p.type : ''}:${pDesc}`);
      }
    }
  }
  return n + funcEnd;
}

/** ASSUMED: a json_schema response format costs the tokens of its schema's JSON (OpenAI publishes no rule). */
function formatTokens(model: string, format: unknown): number {
  if (!isObj(format) || format.type !== 'json_schema') return 0;
  const spec = isObj(format.json_schema) ? format.json_schema : format;
  return textTokens(model, JSON.stringify(spec.schema ?? {}));
}

export class ReferenceCounter implements TokenCounter {
  private readonly remote: ImageSize;

  constructor(options: ReferenceCounterOptions = {}) {
    this.remote = options.remoteImageSize ?? { width: 1024, height: 1024 };
  }

  countText(model: string, text: string): number {
    return textTokens(model, text);
  }

  private imagePart(model: string, image: unknown, detail: unknown): number {
    const url = typeof image === 'string' ? image : isObj(image) && typeof image.url === 'string' ? image.url : '';
    const d = typeof detail === 'string' ? detail : isObj(image) && typeof image.detail === 'string' ? image.detail : undefined;
    const size = url.startsWith('data:') ? (dataUrlImageSize(url) ?? this.remote) : this.remote;
    return imageTokens(model, size, d);
  }

  /** Tokens of a message's content: a string, or parts (text, images; other parts by their JSON, assumed). */
  private content(model: string, content: unknown): number {
    if (typeof content === 'string') return textTokens(model, content);
    if (!Array.isArray(content)) return content === null || content === undefined ? 0 : textTokens(model, JSON.stringify(content));
    let n = 0;
    for (const part of content) {
      if (!isObj(part)) continue;
      if (typeof part.text === 'string') n += textTokens(model, part.text);
      else if (part.type === 'image_url') n += this.imagePart(model, part.image_url, undefined);
      else if (part.type === 'input_image') n += this.imagePart(model, part.image_url ?? part.file_id, part.detail);
      else if (typeof part.refusal === 'string') n += textTokens(model, part.refusal);
      else n += textTokens(model, JSON.stringify(part));
    }
    return n;
  }

  /** One chat message with the cookbook overheads (without the reply priming). */
  private message(model: string, msg: unknown): number {
    const o = overheads(model);
    if (!isObj(msg)) return o.perMessage;
    let n = o.perMessage;
    for (const [key, value] of Object.entries(msg)) {
      if (key === 'content') n += this.content(model, value);
      else if (typeof value === 'string') n += textTokens(model, value);
      else if (value !== null && value !== undefined) n += textTokens(model, JSON.stringify(value));
      if (key === 'name') n += o.perName;
    }
    return n;
  }

  /** Messages a request is rendered as, plus what comes before them (tools, response format). */
  private render(endpoint: string, body: Json): { model: string; head: number; messages: unknown[] } | null {
    const model = typeof body.model === 'string' ? body.model : '';
    if (endpoint === '/v1/chat/completions') {
      if (!Array.isArray(body.messages)) throw new Error("'messages' must be an array");
      return { model, head: toolsTokens(model, body.tools) + formatTokens(model, body.response_format), messages: body.messages };
    }
    if (endpoint === '/v1/responses') {
      const messages: unknown[] = [];
      if (typeof body.instructions === 'string') messages.push({ role: 'system', content: body.instructions });
      if (typeof body.input === 'string') messages.push({ role: 'user', content: body.input });
      else if (Array.isArray(body.input)) messages.push(...body.input);
      else if (body.input !== undefined) throw new Error("'input' must be a string or an array");
      const text = isObj(body.text) ? body.text : {};
      return { model, head: toolsTokens(model, body.tools) + formatTokens(model, text.format), messages };
    }
    return null;
  }

  countRequest(endpoint: string, body: Json): number {
    const model = typeof body.model === 'string' ? body.model : '';
    const r = this.render(endpoint, body);
    if (r) {
      let n = r.head + overheads(model).reply;
      for (const m of r.messages) n += this.message(model, m);
      return n;
    }
    if (endpoint === '/v1/embeddings' || endpoint === '/v1/moderations') return this.inputs(model, body.input);
    if (endpoint === '/v1/completions') return this.inputs(model, body.prompt);
    throw new Error(`no token rule for ${endpoint}`);
  }

  /** Strings, token arrays, or arrays of either (moderation parts by their text/image). */
  private inputs(model: string, input: unknown): number {
    if (typeof input === 'string') return textTokens(model, input);
    if (!Array.isArray(input)) return 0;
    if (input.every((x) => typeof x === 'number')) return input.length;
    let n = 0;
    for (const x of input) {
      if (typeof x === 'string') n += textTokens(model, x);
      else if (Array.isArray(x)) n += x.length;
      else if (isObj(x) && typeof x.text === 'string') n += textTokens(model, x.text);
      else if (isObj(x) && x.type === 'image_url') n += this.imagePart(model, x.image_url, undefined);
    }
    return n;
  }

  prefixes(endpoint: string, body: Json): Array<{ key: string; tokens: number }> {
    const r = this.render(endpoint, body);
    if (!r) return [];
    const out: Array<{ key: string; tokens: number }> = [];
    const tools = JSON.stringify([r.model, body.tools ?? null, body.response_format ?? (isObj(body.text) ? body.text.format : null) ?? null]);
    let key = tools;
    let tokens = r.head;
    for (const m of r.messages) {
      key = `${key}\u0000${JSON.stringify(m)}`;
      tokens += this.message(r.model, m);
      out.push({ key, tokens });
    }
    return out;
  }
}

/** The simulator's reference counter. */
export function createReferenceCounter(options: ReferenceCounterOptions = {}): TokenCounter {
  return new ReferenceCounter(options);
}

/**
 * A cheap counter for the `instant` profile: about 4 characters per token, no tokenizer. Far
 * faster, not exact: use it to measure a client, not to test token budgets.
 */
export function createCheapCounter(): TokenCounter {
  const text = (s: string): number => Math.ceil(s.length / 4);
  return {
    countText: (_model, s) => text(s),
    countRequest: (_endpoint, body) => Math.ceil(charsOf(body.messages ?? body.input ?? body.prompt ?? '') / 4) + 7,
  };
}

/** Characters of a prompt's text: strings' lengths summed over arrays and objects (keys and values), no JSON built. */
function charsOf(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v).length;
  if (Array.isArray(v)) {
    let n = 0;
    for (const x of v) n += charsOf(x);
    return n;
  }
  if (isObj(v)) {
    let n = 0;
    for (const k in v) n += k.length + charsOf(v[k]);
    return n;
  }
  return 0;
}

/** A counter whose request counts are `inner`'s × (1 + drift): the "real" usage an estimator has to live with. */
export function withDrift(inner: TokenCounter, drift: number): TokenCounter {
  if (drift === 0) return inner;
  return {
    countText: (model, s) => inner.countText(model, s),
    countRequest: (endpoint, body) => Math.max(0, Math.round(inner.countRequest(endpoint, body) * (1 + drift))),
    ...(inner.prefixes ? { prefixes: (endpoint: string, body: Json) => inner.prefixes!(endpoint, body) } : {}),
  };
}
