import type { ModelProfile } from './model-profile.ts';

/** What the endpoint-specific counters need: the model's rules and cached text counting. */
export interface CountContext {
  readonly profile: ModelProfile;
  /** Token count of `text` in the model's encoding; long strings are served from the LRU. */
  text(text: string): number;
  /**
   * A count for a structured block (tool list, function list) cached under `kind` + `key`, where `key`
   * is the block's serialization; `compute` runs only on a cache miss.
   */
  block(kind: string, key: string, compute: () => number): number;
  /**
   * The same context without the string LRU, for content that is unique to one request (the part
   * after a shared prefix): caching it would only evict shared strings. Absent: use this context.
   */
  unshared?: CountContext;
}
