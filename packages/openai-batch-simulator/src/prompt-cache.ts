/**
 * Prompt caching as OpenAI documents it: caching is automatic for prompts of 1,024 tokens or
 * more; a request whose prompt starts with a prefix another request of the same organization sent
 * recently reports the matched part as `cached_tokens`, counted in steps of 128 tokens after the
 * first 1,024 (so 0, 1024, 1152, …). Simplifications (documented in the README): prefixes match at
 * message boundaries (tools and response format first, then each message), and a prefix stays
 * warm for `ttlSeconds` of simulated time after its last use (ASSUMED; OpenAI says 5 to 10
 * minutes of inactivity, up to an hour).
 */
import { createHash } from 'node:crypto';

/** The minimum cacheable prefix, tokens. */
export const MIN_CACHED_TOKENS = 1024;
/** Cache hits grow in steps of this many tokens. */
export const CACHE_STEP_TOKENS = 128;

/** `cached_tokens` for a matched prefix of `matched` tokens. */
export function cachedFor(matched: number): number {
  if (matched < MIN_CACHED_TOKENS) return 0;
  return MIN_CACHED_TOKENS + Math.floor((matched - MIN_CACHED_TOKENS) / CACHE_STEP_TOKENS) * CACHE_STEP_TOKENS;
}

/** Recently seen prompt prefixes per organization. */
export class PromptCache {
  private readonly orgs = new Map<string, Map<string, number>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntriesPerOrg = 100_000,
  ) {}

  /**
   * The cached tokens of a request sent at simulated `atMs` whose prompt has these prefixes
   * (cumulative tokens at each boundary), then remember its cacheable prefixes.
   */
  use(organization: string, prefixes: ReadonlyArray<{ key: string; tokens: number }>, atMs: number): number {
    if (prefixes.length === 0) return 0;
    let seen = this.orgs.get(organization);
    if (!seen) {
      seen = new Map();
      this.orgs.set(organization, seen);
    }
    const hashes = prefixes.map((p) => (p.tokens >= MIN_CACHED_TOKENS ? createHash('sha256').update(p.key).digest('base64') : ''));
    let matched = 0;
    for (let i = prefixes.length - 1; i >= 0; i--) {
      const h = hashes[i];
      if (!h) continue;
      const last = seen.get(h);
      if (last !== undefined && atMs - last <= this.ttlMs) {
        matched = prefixes[i]!.tokens;
        break;
      }
    }
    for (const h of hashes) {
      if (!h) continue;
      seen.delete(h);
      seen.set(h, atMs);
    }
    while (seen.size > this.maxEntriesPerOrg) {
      const oldest = seen.keys().next().value;
      if (oldest === undefined) break;
      seen.delete(oldest);
    }
    return cachedFor(matched);
  }

  /** Forget everything. */
  clear(): void {
    this.orgs.clear();
  }
}
