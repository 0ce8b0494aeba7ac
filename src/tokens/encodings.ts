import { get_encoding, type Tiktoken } from 'tiktoken';

/** The two BPE encodings used by current OpenAI chat and embedding models. */
export type EncodingName = 'o200k_base' | 'cl100k_base';

/** Strips a fine-tune prefix (`ft:gpt-4o-mini-2024-07-18:org::id` -> `gpt-4o-mini-2024-07-18`) and lower-cases. */
export function baseModelName(model: string): string {
  let m = model.trim().toLowerCase();
  if (m.startsWith('ft:')) {
    const end = m.indexOf(':', 3);
    m = end === -1 ? m.slice(3) : m.slice(3, end);
  }
  return m;
}

const CL100K_PREFIXES = [
  'gpt-3.5',
  'gpt-35-turbo', // Azure spelling
  'text-embedding-ada-002',
  'text-embedding-3-',
  'davinci-002',
  'babbage-002',
];

/** True when {@link encodingForModel} recognises the model family (rather than guessing). */
export function isKnownModelFamily(model: string): boolean {
  const m = baseModelName(model);
  return (
    isO200kFamily(m) ||
    m === 'gpt-4' ||
    m.startsWith('gpt-4-') ||
    CL100K_PREFIXES.some((p) => m.startsWith(p))
  );
}

function isO200kFamily(m: string): boolean {
  return (
    m.startsWith('gpt-4o') ||
    m.startsWith('chatgpt-4o') ||
    m.startsWith('gpt-4.1') ||
    m.startsWith('gpt-4.5') ||
    m.startsWith('gpt-5') ||
    /^o\d/.test(m) || // o1, o3, o4-mini, ... reasoning models
    m.startsWith('computer-use-preview') ||
    m.startsWith('codex-mini')
  );
}

/**
 * The tiktoken encoding a model uses.
 *
 * `o200k_base`: gpt-4o*, chatgpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1/o3/o4* (and computer-use-preview, codex-mini).
 * `cl100k_base`: gpt-4 and gpt-4-* (turbo, 32k, vision), gpt-3.5*, text-embedding-ada-002, text-embedding-3-*,
 * davinci-002, babbage-002.
 *
 * Any other model gets `o200k_base`: that is a GUESS (every model OpenAI released since May 2024 uses it);
 * {@link isKnownModelFamily} tells callers whether the answer was a guess.
 */
export function encodingForModel(model: string): EncodingName {
  const m = baseModelName(model);
  if (isO200kFamily(m)) return 'o200k_base';
  if (m === 'gpt-4' || m.startsWith('gpt-4-')) return 'cl100k_base';
  if (CL100K_PREFIXES.some((p) => m.startsWith(p))) return 'cl100k_base';
  return 'o200k_base'; // guess for unknown models, see JSDoc
}

const encoders = new Map<EncodingName, Tiktoken>();

/**
 * The process-wide tiktoken encoder for an encoding. Created lazily on first use (loading o200k_base takes
 * ~0.3 s) and then reused for the life of the process; it is never freed.
 */
export function getEncoder(encoding: EncodingName): Tiktoken {
  let enc = encoders.get(encoding);
  if (enc === undefined) {
    enc = get_encoding(encoding);
    encoders.set(encoding, enc);
  }
  return enc;
}
