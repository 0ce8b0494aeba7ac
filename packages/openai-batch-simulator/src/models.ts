/**
 * What the simulator knows about models: the dated snapshot a batch reports in `model` once it
 * runs (reference §1.2), context windows (for realistic context_length_exceeded errors) and the
 * embedding dimensions.
 */

const SNAPSHOTS: Record<string, string> = {
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
  'gpt-4.1-nano': 'gpt-4.1-nano-2025-04-14',
  'gpt-5': 'gpt-5-2025-08-07',
  'gpt-5-mini': 'gpt-5-mini-2025-08-07',
  'gpt-5-nano': 'gpt-5-nano-2025-08-07',
  'gpt-3.5-turbo': 'gpt-3.5-turbo-0125',
  'gpt-4-turbo': 'gpt-4-turbo-2024-04-09',
  o3: 'o3-2025-04-16',
  'o4-mini': 'o4-mini-2025-04-16',
};

/** The dated snapshot id for a model alias; dated ids and unknown models are returned unchanged. */
export function resolveSnapshot(model: string): string {
  return SNAPSHOTS[model] ?? model;
}

/** Context window (input + output tokens) for known chat models, else undefined (no check). */
export function contextWindow(model: string): number | undefined {
  const m = model.toLowerCase();
  if (m.startsWith('gpt-4.1')) return 1_047_576;
  if (m.startsWith('gpt-5')) return 400_000;
  if (m.startsWith('gpt-4o') || m.startsWith('gpt-4-turbo') || m.startsWith('o3') || m.startsWith('o4')) return 128_000;
  if (m.startsWith('gpt-3.5-turbo')) return 16_385;
  return undefined;
}

/** Default embedding size of a model. */
export function embeddingDimensions(model: string): number {
  if (model.startsWith('text-embedding-3-large')) return 3072;
  return 1536;
}

/** Max input tokens of an embedding model. */
export const EMBEDDING_MAX_INPUT_TOKENS = 8192;
