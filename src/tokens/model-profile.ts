import { baseModelName, encodingForModel, isKnownModelFamily, type EncodingName } from './encodings.ts';
import { imageRuleForModel, type ImageRule } from './image-tokens.ts';

/**
 * Chat formatting overheads (the cookbook's `num_tokens_from_messages`):
 * `Σ(tokensPerMessage + tokens(values) + tokensPerName if named) + replyPriming + requestExtra`.
 */
export interface ChatOverheads {
  tokensPerMessage: number;
  tokensPerName: number;
  /** "every reply is primed with <|start|>assistant<|message|>" */
  replyPriming: number;
  /** Added once per request; 0 where the cookbook rule is verified. */
  requestExtra: number;
  /** True when the overheads were verified against API usage (cookbook / reference §7.1). */
  verified: boolean;
}

/** Constants of the cookbook's `num_tokens_for_tools`. */
export interface ToolOverheads {
  funcInit: number;
  propInit: number;
  propKey: number;
  enumInit: number;
  enumItem: number;
  funcEnd: number;
}

/** Everything the counter needs to know about a model; computed once per model name. */
export interface ModelProfile {
  readonly model: string;
  readonly encoding: EncodingName;
  /** False when the encoding was guessed for an unknown model. */
  readonly knownFamily: boolean;
  readonly chat: ChatOverheads;
  readonly tools: ToolOverheads;
  readonly image: ImageRule;
}

/** Cookbook values, API-verified for gpt-3.5-turbo(-0125), gpt-4(-0613), gpt-4o, gpt-4o-mini. */
const COOKBOOK: ChatOverheads = { tokensPerMessage: 3, tokensPerName: 1, replyPriming: 3, requestExtra: 0, verified: true };
/** Older notebook: gpt-3.5-turbo-0301 renders `<|start|>{role/name}\n{content}<|end|>\n`, and a name replaces the role. */
const GPT35_0301: ChatOverheads = { tokensPerMessage: 4, tokensPerName: -1, replyPriming: 3, requestExtra: 0, verified: true };
/**
 * GUESS for models with no published or verified rule (gpt-4.1, gpt-4.5, gpt-5, o-series, unknown):
 * the cookbook rule plus 1 token per message and 8 per request, so the estimate errs a little high.
 * Reasoning models may also add hidden preamble tokens that nobody outside OpenAI can count.
 */
const UNVERIFIED: ChatOverheads = { tokensPerMessage: 4, tokensPerName: 1, replyPriming: 3, requestExtra: 8, verified: false };

const TOOLS_O200K: ToolOverheads = { funcInit: 7, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 };
const TOOLS_CL100K: ToolOverheads = { funcInit: 10, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 };

/** Builds the {@link ModelProfile} of a model name. */
export function modelProfile(model: string): ModelProfile {
  const m = baseModelName(model);
  const encoding = encodingForModel(m);
  return {
    model,
    encoding,
    knownFamily: isKnownModelFamily(m),
    chat: chatOverheads(m),
    // The cookbook verified func_init 7 on gpt-4o/4o-mini and 10 on gpt-4/gpt-3.5-turbo; other o200k models
    // reuse 7 (unverified; the per-request extra of UNVERIFIED covers a small difference).
    tools: encoding === 'cl100k_base' ? TOOLS_CL100K : TOOLS_O200K,
    image: imageRuleForModel(m),
  };
}

function chatOverheads(m: string): ChatOverheads {
  if (m.startsWith('gpt-3.5-turbo-0301') || m.startsWith('gpt-35-turbo-0301')) return GPT35_0301;
  if (m.startsWith('gpt-4o') || m.startsWith('chatgpt-4o')) return COOKBOOK;
  if (m === 'gpt-4' || m.startsWith('gpt-4-')) return COOKBOOK;
  if (m.startsWith('gpt-3.5') || m.startsWith('gpt-35-turbo')) return COOKBOOK;
  return UNVERIFIED;
}

/**
 * Overheads for `/v1/responses` bodies. No rule is published for the Responses API, so every model gets the
 * cookbook rule plus the unverified margins (a GUESS that errs high).
 */
export const RESPONSES_OVERHEADS: ChatOverheads = UNVERIFIED;
