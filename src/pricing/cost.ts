/**
 * Cost of token usage, exact.
 *
 * Arithmetic: every rate (USD per 1M tokens, at most 6 decimals) is turned into an integer
 * number of micro-USD per 1M tokens, and `tokens × rate` is then an exact integer number of
 * **pico-USD** (1e-12 USD), computed with `bigint`. Sums stay exact; the only rounding is the
 * final conversion to a JS number ({@link picoUsdToNumber}, the nearest double to the exact
 * value) or to a decimal string ({@link picoUsdToDecimalString}, for `Decimal` columns).
 * Because halving is exact in binary, a batch rate that is exactly half the standard rate gives
 * `costUsd * 2 === syncCostUsd` bit for bit.
 *
 * Cached tokens are a subset of input tokens: `uncached = inputTokens - cachedTokens` is charged
 * at `input`, `cachedTokens` at `cachedInput` (or at `input` where no cached rate is listed,
 * see `price-table.ts`), and `outputTokens` (reasoning included) at `output`.
 */
import { InvalidUsageError } from './errors/invalid-usage-error.ts';
import { UnpricedTokensError } from './errors/unpriced-tokens-error.ts';
import { SEED_PRICE_TABLE, resolveModel, type ModelPrice, type PriceTable, type PricingMode, type TierPrice } from './price-table.ts';

/** Token usage of one request (or a sum). `cachedTokens` is the part of `inputTokens` served from the prompt cache. */
export interface TokenUsage {
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
}

/** What usage cost in batch mode and what the same usage would have cost synchronously. */
export interface CostPair {
  /** Cost at Batch API rates, USD. */
  costUsd: number;
  /** Cost of the same usage at standard (synchronous) rates, USD. */
  syncCostUsd: number;
}

/** {@link CostPair} in exact pico-USD (1e-12 USD), for summing many requests without drift. */
export interface CostPairPico {
  costPicoUsd: bigint;
  syncCostPicoUsd: bigint;
}

/** Pico-USD per USD. */
export const PICO_USD_PER_USD = 1_000_000_000_000n;

/** A tier's rates with the cached-input rule applied (`cachedInput` falls back to `input`). */
export interface EffectiveRates {
  input: number;
  cachedInput: number;
  output: number | null;
}

/** The rates `mode` charges for `price`: `batch` → `price.batch`, `sync` → `price.standard`, cached rule applied. */
export function effectiveRates(price: ModelPrice, mode: PricingMode): EffectiveRates {
  const tier: TierPrice = mode === 'batch' ? price.batch : price.standard;
  return { input: tier.input, cachedInput: tier.cachedInput ?? tier.input, output: tier.output };
}

/** USD per 1M tokens → integer micro-USD per 1M tokens (= pico-USD per token). */
function microRate(rate: number, what: string): bigint {
  const scaled = Math.round(rate * 1e6);
  if (!Number.isFinite(rate) || rate < 0 || Math.abs(rate * 1e6 - scaled) > 1e-6) {
    throw new RangeError(`price ${what} must be a finite, non-negative rate with at most 6 decimals, got ${rate}`);
  }
  return BigInt(scaled);
}

/** Throws `InvalidUsageError` unless usage holds non-negative safe integers with `cachedTokens <= inputTokens`. */
export function assertValidUsage(usage: TokenUsage): void {
  for (const field of ['inputTokens', 'cachedTokens', 'outputTokens'] as const) {
    const v: unknown = usage[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new InvalidUsageError(field, `must be a non-negative integer, got ${String(v)}`);
    }
  }
  if (usage.cachedTokens > usage.inputTokens) {
    throw new InvalidUsageError(
      'cachedTokens',
      `(${usage.cachedTokens}) cannot exceed inputTokens (${usage.inputTokens}): cached tokens are a subset of input tokens`,
    );
  }
}

/**
 * Exact cost of `usage` at `price` in `mode`, in pico-USD.
 * @param model only used to name the model in errors.
 * @throws InvalidUsageError for bad counts; UnpricedTokensError for output tokens on a model without an output rate.
 */
export function costOfPicoUsd(usage: TokenUsage, price: ModelPrice, mode: PricingMode, model?: string): bigint {
  assertValidUsage(usage);
  const rates = effectiveRates(price, mode);
  const uncached = BigInt(usage.inputTokens - usage.cachedTokens);
  let pico = uncached * microRate(rates.input, 'input') + BigInt(usage.cachedTokens) * microRate(rates.cachedInput, 'cachedInput');
  if (usage.outputTokens > 0) {
    if (rates.output === null) throw new UnpricedTokensError('output', model);
    pico += BigInt(usage.outputTokens) * microRate(rates.output, 'output');
  }
  return pico;
}

/**
 * Cost of `usage` at `price` in `mode` (`batch` or `sync`), USD: the nearest double to the exact cost.
 * @throws InvalidUsageError | UnpricedTokensError (see {@link costOfPicoUsd}).
 */
export function costOf(usage: TokenUsage, price: ModelPrice, mode: PricingMode): number {
  return picoUsdToNumber(costOfPicoUsd(usage, price, mode));
}

/** {@link costPair} in exact pico-USD. */
export function costPairPico(usage: TokenUsage, model: string, table: PriceTable = SEED_PRICE_TABLE): CostPairPico {
  const { price } = resolveModel(model, table);
  return {
    costPicoUsd: costOfPicoUsd(usage, price, 'batch', model),
    syncCostPicoUsd: costOfPicoUsd(usage, price, 'sync', model),
  };
}

/**
 * What `usage` on `model` cost through the Batch API (`costUsd`) and what the same usage would
 * have cost synchronously (`syncCostUsd`), USD.
 * @throws UnknownModelError (naming the model) when `table` has no entry for it; never returns 0 for an unknown model.
 */
export function costPair(usage: TokenUsage, model: string, table: PriceTable = SEED_PRICE_TABLE): CostPair {
  const pico = costPairPico(usage, model, table);
  return { costUsd: picoUsdToNumber(pico.costPicoUsd), syncCostUsd: picoUsdToNumber(pico.syncCostPicoUsd) };
}

/** Pico-USD → USD as the nearest double (exact below 2^53 pico-USD ≈ $9,007; relative error ≤ 1e-16 above). */
export function picoUsdToNumber(pico: bigint): number {
  return Number(pico) / 1e12;
}

/**
 * Pico-USD → exact decimal string with `scale` decimals (default 10, the `Decimal(18,10)`
 * columns), rounding half away from zero. `picoUsdToDecimalString(1_250_000n)` → `'0.0000012500'`.
 */
export function picoUsdToDecimalString(pico: bigint, scale = 10): string {
  if (!Number.isInteger(scale) || scale < 0 || scale > 12) throw new RangeError(`scale must be an integer 0..12, got ${scale}`);
  const negative = pico < 0n;
  let abs = negative ? -pico : pico;
  const drop = 10n ** BigInt(12 - scale);
  abs = (abs + drop / 2n) / drop; // half away from zero (drop is 1 when scale = 12)
  const unit = 10n ** BigInt(scale);
  const whole = abs / unit;
  const frac = abs % unit;
  const text = scale === 0 ? `${whole}` : `${whole}.${frac.toString().padStart(scale, '0')}`;
  return negative && abs !== 0n ? `-${text}` : text;
}
