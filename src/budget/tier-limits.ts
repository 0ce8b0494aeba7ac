/**
 * Default Batch API queue limits (enqueued input tokens per model, organisation-wide) by usage tier.
 *
 * Copied from the project's Batch API reference (§3.2, "Batch queue limits (tokens) by tier"), which
 * snapshots OpenAI's model pages. OpenAI changes these often and per organisation: the real numbers
 * are on platform.openai.com/settings/organization/limits, and a `token_limit_exceeded` message
 * teaches the real one at run time (see `limits.ts`). Treat this table as a starting point only.
 */

/** OpenAI usage tier, 1 to 5. */
export type Tier = 1 | 2 | 3 | 4 | 5;

/** All tiers, lowest first. */
export const TIERS: readonly Tier[] = [1, 2, 3, 4, 5];

/** Per-tier limits of one model family; `null` marks a tier whose limit is unknown (unverified). */
export type TierLimits = Readonly<Record<`T${Tier}`, number | null>>;

/** Where a row's numbers come from. */
export type LimitConfidence =
  /** An official model page (stored mirror). */
  | 'model-page'
  /** A third party's copy of a model page, or a report. */
  | 'third-party'
  /** Not published anywhere we could read; copied from a sibling model. */
  | 'assumed';

/** One row of the table: a model family, its limits, and where they come from. */
export interface ModelQueueLimits {
  /** Canonical family name, e.g. `gpt-4o-mini`. */
  readonly family: string;
  /** Other family names sharing these limits (no snapshot dates; those are stripped before lookup). */
  readonly aliases: readonly string[];
  readonly limits: TierLimits;
  /** Limits for inputs over 128k tokens, where the model page lists a separate pool. */
  readonly longContextLimits?: TierLimits;
  readonly confidence: LimitConfidence;
  /** Where the numbers were read, with the date of that source. */
  readonly source: string;
  readonly sourceDate: string;
  readonly note?: string;
}

/** Provenance of the whole table. */
export const TIER_LIMITS_SOURCE = {
  /** The reference section the table was copied from. */
  reference: 'research reference "OpenAI Batch API - ground truth", §3.2 Batch queue limits (tokens) by tier',
  /** Newest snapshot date in that reference (its model-page mirrors are from 2026). */
  asOf: '2026-08-21',
} as const;

const row = (t1: number | null, t2: number | null, t3: number | null, t4: number | null, t5: number | null): TierLimits => ({
  T1: t1,
  T2: t2,
  T3: t3,
  T4: t4,
  T5: t5,
});

const MINI_LIMITS = row(2_000_000, 20_000_000, 40_000_000, 1_000_000_000, 15_000_000_000);

/** The batch queue-limit table, one row per model family. */
export const MODEL_QUEUE_LIMITS: readonly ModelQueueLimits[] = [
  {
    family: 'gpt-4o',
    aliases: [],
    limits: row(90_000, 1_350_000, 50_000_000, 200_000_000, 5_000_000_000),
    confidence: 'model-page',
    source: 'developers.openai.com/api/docs/models/gpt-4o.md mirror',
    sourceDate: '2026',
  },
  {
    // gpt-4.1 shares gpt-4o's standard-context limits but has its own long-context pool.
    family: 'gpt-4.1',
    aliases: [],
    limits: row(90_000, 1_350_000, 50_000_000, 200_000_000, 5_000_000_000),
    longContextLimits: row(2_000_000, 20_000_000, 40_000_000, 100_000_000, 1_000_000_000),
    confidence: 'model-page',
    source: 'developers.openai.com/api/docs/models/gpt-4.1.md mirror',
    sourceDate: '2026',
  },
  {
    family: 'gpt-4o-mini',
    aliases: ['gpt-4.1-mini'],
    limits: MINI_LIMITS,
    confidence: 'model-page',
    source: 'model page mirrors; same numbers in community.openai.com t/1269349',
    sourceDate: '2026',
  },
  {
    family: 'gpt-4.1-nano',
    aliases: [],
    limits: MINI_LIMITS,
    confidence: 'assumed',
    source: 'none: ASSUMED equal to gpt-4.1-mini (no published figure found)',
    sourceDate: '2026',
    note: 'gpt-4.1-nano limits are UNVERIFIED; assumed equal to gpt-4.1-mini.',
  },
  {
    family: 'gpt-5',
    aliases: [],
    limits: row(1_500_000, 3_000_000, null, null, null),
    confidence: 'third-party',
    source: 'simonwillison.net/2025/Sep/12/gpt-5-rate-limits',
    sourceDate: '2025-09-12',
    note: 'T3-T5 unknown for gpt-5 itself; GPT-5.x model pages show 1.5M/3M/100M/200M/15B.',
  },
  {
    family: 'gpt-5-mini',
    aliases: [],
    limits: row(5_000_000, 20_000_000, 40_000_000, 1_000_000_000, 15_000_000_000),
    confidence: 'model-page',
    source: 'gpt-5-mini model page mirror',
    sourceDate: '2026',
  },
  {
    family: 'gpt-5-nano',
    aliases: [],
    limits: MINI_LIMITS,
    confidence: 'model-page',
    source: 'gpt-5-nano model page mirror',
    sourceDate: '2026',
  },
  {
    family: 'text-embedding-3-small',
    aliases: ['text-embedding-3-large'],
    limits: row(3_000_000, 20_000_000, 100_000_000, 500_000_000, 4_000_000_000),
    confidence: 'third-party',
    source: 'third-party copy of the model page (burncloud); T1 3M also in the 2024 tier docs',
    sourceDate: '2024-2026',
  },
];

const BY_NAME = new Map<string, ModelQueueLimits>(
  MODEL_QUEUE_LIMITS.flatMap((entry) => [entry.family, ...entry.aliases].map((name) => [name, entry] as const)),
);

/** A dated snapshot suffix such as `-2024-07-18`. */
const SNAPSHOT_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;

/**
 * The table row for a model name, or `null` when the model is not in the table.
 * Snapshot names resolve to their family (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`);
 * matching is exact otherwise, so `gpt-4o-mini` never falls back to `gpt-4o`.
 * Fine-tuned models (`ft:…`) are not resolved: their limits are not published.
 */
export function resolveModelLimits(model: string): ModelQueueLimits | null {
  const name = model.trim().toLowerCase().replace(SNAPSHOT_SUFFIX, '');
  return BY_NAME.get(name) ?? null;
}

/** Accepts `3`, `'3'`, `'T3'`, `'t3'`, `'tier3'`, `'tier-3'`, `'tier 3'`; `null` for anything else. */
export function parseTier(value: string | number): Tier | null {
  const match = /^(?:t|tier[\s_-]?)?([1-5])$/i.exec(String(value).trim());
  return match ? (Number(match[1]) as Tier) : null;
}

/**
 * The default enqueued-token limit for `model` at `tier`, or `null` when the model is unknown,
 * its limit at that tier is unknown, or `tier` is not a tier (see {@link parseTier}).
 * @param tier 1-5 (e.g. config `OPENAI_TIER`) or `'T1'`..`'T5'`.
 * @param options.longContext use the separate >128k-input pool where the table has one (gpt-4.1);
 *   ignored for models without one.
 */
export function defaultLimitFor(model: string, tier: number | string, options: { longContext?: boolean } = {}): number | null {
  const entry = resolveModelLimits(model);
  const t = parseTier(tier);
  if (!entry || t === null) return null;
  const limits = (options.longContext && entry.longContextLimits) || entry.limits;
  return limits[`T${t}`];
}
