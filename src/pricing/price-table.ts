/**
 * Versioned OpenAI price table (USD per 1M tokens), standard (synchronous) and Batch rates.
 *
 * Rules this module fixes (and `cost.ts` applies):
 * - **Cached input where a rate is not listed** (`cachedInput` absent, shown as "–" in the
 *   official table: the Batch column of the gpt-4o / gpt-4.1 families, all embeddings):
 *   cached tokens are charged at that tier's full `input` rate. OpenAI does not publish a batch
 *   cached discount for those models, so we never assume one: the cost may be slightly high,
 *   never low. Consequence: for those models, batch cost is exactly half of sync cost only when
 *   `cachedTokens` is 0; for the gpt-5 family (which lists a batch cached rate) it is always half.
 * - **Reasoning tokens bill as output.** OpenAI already counts them inside `completion_tokens`
 *   / `output_tokens`; never add `reasoning_tokens` on top (that double counts).
 * - **No output rate** (`output: null`, embeddings): output tokens on such a model throw
 *   `UnpricedTokensError` rather than being costed at zero.
 * - **Model resolution**: exact name first (case-insensitive); otherwise the longest table entry
 *   that is a prefix of the name *followed only by a snapshot date* (`-2024-07-18` or `-0613`),
 *   so `gpt-4o-mini-2024-07-18` → `gpt-4o-mini` and `gpt-5-2025-08-07` → `gpt-5`, while
 *   `gpt-4o-2024-05-13` keeps its own (older, higher) entry. Other suffixes (`gpt-5-pro`,
 *   `gpt-4o-audio-preview`, `ft:…`) are different products with different prices: they are
 *   unknown until added by an override, and unknown models throw `UnknownModelError`.
 */
import { z } from 'zod';
import { InvalidPriceTableError, type PriceTableIssue } from './errors/invalid-price-table-error.ts';
import { UnknownModelError } from './errors/unknown-model-error.ts';

/** `batch`: the Batch API rate; `sync`: the standard synchronous rate. */
export type PricingMode = 'batch' | 'sync';

/** Rates of one tier, USD per 1M tokens. */
export interface TierPrice {
  /** Uncached input (prompt) tokens. */
  readonly input: number;
  /** Cached input tokens. Absent = not listed: charged at `input` (see module doc). */
  readonly cachedInput?: number;
  /** Output tokens, reasoning tokens included. `null` = the model produces no billable output (embeddings). */
  readonly output: number | null;
}

/** Prices of one model at the standard (synchronous) and Batch tiers. */
export interface ModelPrice {
  readonly standard: TierPrice;
  readonly batch: TierPrice;
}

/** A versioned price table. `models` has no prototype: look entries up with {@link resolveModel}. */
export interface PriceTable {
  /** Version of the prices, e.g. `openai-2026-07-30`; `+overrides` is appended when overrides changed it without naming a version. */
  readonly version: string;
  /** Where the prices come from. */
  readonly source: string;
  /** Always USD per 1M tokens. */
  readonly unit: 'usd_per_1m_tokens';
  /** Lowercase model name → prices. */
  readonly models: Readonly<Record<string, ModelPrice>>;
}

/** A model name resolved against a table: `key` is the table entry used. */
export interface ResolvedModel {
  readonly model: string;
  readonly key: string;
  readonly price: ModelPrice;
}

/** Version of the seeded prices (the pricing page capture they come from). */
export const SEED_PRICE_TABLE_VERSION = 'openai-2026-07-30';

/** Where the seeded prices come from (docs reference `openai-batch-api.md` §6). */
export const SEED_PRICE_TABLE_SOURCE =
  'OpenAI pricing page developers.openai.com/api/docs/pricing (mirror captured after 2026-07-30) and 2026 model-page ' +
  'mirrors; embedding batch rates from 2025 pricing-page mirrors; gpt-4o-2024-05-13 from the pricing page "other" list';

/** Largest rate accepted in a table (USD per 1M tokens); anything above is almost surely a units mistake. */
export const MAX_RATE_USD_PER_1M = 10_000;

/** Rates are stored exactly in micro-USD per 1M tokens, so at most this many decimals are allowed. */
export const RATE_DECIMALS = 6;

const tier = (input: number, cachedInput: number | undefined, output: number | null): TierPrice =>
  cachedInput === undefined ? { input, output } : { input, cachedInput, output };

/** The shipped prices, from docs reference §6. Batch cached "–" is left out on purpose (module doc). */
const SEED_MODELS: Record<string, ModelPrice> = {
  'gpt-4o': { standard: tier(2.5, 1.25, 10), batch: tier(1.25, undefined, 5) },
  'gpt-4o-2024-05-13': { standard: tier(5, undefined, 15), batch: tier(2.5, undefined, 7.5) },
  'gpt-4o-mini': { standard: tier(0.15, 0.075, 0.6), batch: tier(0.075, undefined, 0.3) },
  'gpt-4.1': { standard: tier(2, 0.5, 8), batch: tier(1, undefined, 4) },
  'gpt-4.1-mini': { standard: tier(0.4, 0.1, 1.6), batch: tier(0.2, undefined, 0.8) },
  'gpt-4.1-nano': { standard: tier(0.1, 0.025, 0.4), batch: tier(0.05, undefined, 0.2) },
  'gpt-5': { standard: tier(1.25, 0.125, 10), batch: tier(0.625, 0.0625, 5) },
  'gpt-5-mini': { standard: tier(0.25, 0.025, 2), batch: tier(0.125, 0.0125, 1) },
  'gpt-5-nano': { standard: tier(0.05, 0.005, 0.4), batch: tier(0.025, 0.0025, 0.2) },
  'text-embedding-3-small': { standard: tier(0.02, undefined, null), batch: tier(0.01, undefined, null) },
  'text-embedding-3-large': { standard: tier(0.13, undefined, null), batch: tier(0.065, undefined, null) },
};

function freezeTable(version: string, source: string, models: Record<string, ModelPrice>): PriceTable {
  const frozen: Record<string, ModelPrice> = Object.create(null) as Record<string, ModelPrice>;
  for (const [name, price] of Object.entries(models)) {
    frozen[name] = Object.freeze({
      standard: Object.freeze({ ...price.standard }),
      batch: Object.freeze({ ...price.batch }),
    });
  }
  return Object.freeze({ version, source, unit: 'usd_per_1m_tokens' as const, models: Object.freeze(frozen) });
}

/** The seeded table, frozen. */
export const SEED_PRICE_TABLE: PriceTable = freezeTable(SEED_PRICE_TABLE_VERSION, SEED_PRICE_TABLE_SOURCE, SEED_MODELS);

/** Snapshot suffixes that resolve to a base entry: `-YYYY-MM-DD` and the older `-MMDD`. */
const SNAPSHOT_SUFFIX = /^-(?:\d{4}-\d{2}-\d{2}|\d{4})$/;

/** Normalized form of a model name: trimmed, lowercase. */
export function normalizeModelName(model: string): string {
  return model.trim().toLowerCase();
}

/**
 * Resolves a model name to its table entry (exact match, else dated snapshot → base entry,
 * longest prefix wins). Returns `null` for unknown models; see {@link resolveModel} to throw.
 */
export function findModelPrice(model: string, table: PriceTable = SEED_PRICE_TABLE): ResolvedModel | null {
  const name = normalizeModelName(model);
  if (Object.hasOwn(table.models, name)) return { model, key: name, price: table.models[name]! };
  let best: string | null = null;
  for (const key of Object.keys(table.models)) {
    if (name.length > key.length && name.startsWith(key) && SNAPSHOT_SUFFIX.test(name.slice(key.length))) {
      if (best === null || key.length > best.length) best = key;
    }
  }
  return best === null ? null : { model, key: best, price: table.models[best]! };
}

/**
 * Like {@link findModelPrice} but throws `UnknownModelError` (naming the model) when the
 * model has no entry: unknown work is never costed at zero.
 */
export function resolveModel(model: string, table: PriceTable = SEED_PRICE_TABLE): ResolvedModel {
  const found = findModelPrice(model, table);
  if (!found) throw new UnknownModelError(model, table.version);
  return found;
}

/** A rate, USD per 1M tokens: finite, ≥ 0, ≤ {@link MAX_RATE_USD_PER_1M}, at most {@link RATE_DECIMALS} decimals. */
const rateSchema = z
  .number({
    error: (issue) =>
      issue.code === 'invalid_type'
        ? issue.input === undefined
          ? 'required (USD per 1M tokens)'
          : 'expected a number (USD per 1M tokens)'
        : undefined,
  })
  .finite()
  .nonnegative()
  .max(MAX_RATE_USD_PER_1M, `must be at most ${MAX_RATE_USD_PER_1M} USD per 1M tokens`)
  .refine((r) => Math.abs(r * 10 ** RATE_DECIMALS - Math.round(r * 10 ** RATE_DECIMALS)) < 1e-6, {
    message: `must have at most ${RATE_DECIMALS} decimal places`,
  });

const tierSchema = z.strictObject({
  input: rateSchema,
  cachedInput: rateSchema.optional(),
  output: rateSchema.nullable(),
});

const modelNameSchema = z
  .string()
  .transform(normalizeModelName)
  .pipe(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9._:/-]*$/, 'model names are letters, digits and . _ : / - (starting with a letter or digit)'),
  );

/** Shape of a user price override: `{ version?, models: { [model]: { standard, batch } } }`. */
export const priceOverridesSchema = z.strictObject({
  version: z.string().trim().min(1).optional(),
  models: z.record(modelNameSchema, z.strictObject({ standard: tierSchema, batch: tierSchema })),
});

/** A validated price override. */
export type PriceOverrides = z.infer<typeof priceOverridesSchema>;

/** `["models", "gpt-4.1", "batch", "output"]` → `models["gpt-4.1"].batch.output`. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** Zod's message, with the nested reasons of a bad record key spelled out. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_key') return `bad model name: ${issue.issues.map((i) => i.message).join('; ')}`;
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  return issue.message;
}

/**
 * The seed table with user overrides merged over it. `overrides` is a parsed JSON object
 * `{ version?: string, models: { [model]: { standard: {input, cachedInput?, output}, batch: {...} } } }`
 * (USD per 1M tokens; `output: null` only for models without output). An override entry
 * replaces the seed entry of the same (lowercased) name as a whole, or adds a model.
 * Without `overrides`, returns {@link SEED_PRICE_TABLE}.
 * @throws InvalidPriceTableError naming every bad field (e.g. `models["gpt-4.1"].batch.output: …`).
 */
export function loadPriceTable(overrides?: unknown): PriceTable {
  if (overrides === undefined || overrides === null) return SEED_PRICE_TABLE;
  const parsed = priceOverridesSchema.safeParse(overrides);
  if (!parsed.success) {
    const issues: PriceTableIssue[] = parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: issueMessage(i) }));
    throw new InvalidPriceTableError(issues);
  }
  const { version, models } = parsed.data;
  const merged: Record<string, ModelPrice> = { ...SEED_MODELS };
  for (const [name, price] of Object.entries(models)) merged[name] = price;
  const changed = Object.keys(models).length > 0;
  return freezeTable(
    version ?? (changed ? `${SEED_PRICE_TABLE_VERSION}+overrides` : SEED_PRICE_TABLE_VERSION),
    changed ? `${SEED_PRICE_TABLE_SOURCE}; with user overrides for: ${Object.keys(models).sort().join(', ')}` : SEED_PRICE_TABLE_SOURCE,
    merged,
  );
}
