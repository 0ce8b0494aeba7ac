/**
 * Pricing: a versioned OpenAI price table (standard and Batch rates), exact cost of usage,
 * and a savings estimate from past synchronous usage. Unknown models throw; nothing is costed
 * at zero silently.
 */
export {
  INVALID_PRICE_TABLE_ERROR,
  INVALID_USAGE_ERROR,
  InvalidPriceTableError,
  InvalidUsageError,
  UNKNOWN_MODEL_ERROR,
  UNPRICED_TOKENS_ERROR,
  USAGE_SHAPE_ERROR,
  UnknownModelError,
  UnpricedTokensError,
  UsageShapeError,
  type PriceTableIssue,
} from './errors/index.ts';
export {
  MAX_RATE_USD_PER_1M,
  RATE_DECIMALS,
  SEED_PRICE_TABLE,
  SEED_PRICE_TABLE_SOURCE,
  SEED_PRICE_TABLE_VERSION,
  findModelPrice,
  loadPriceTable,
  normalizeModelName,
  priceOverridesSchema,
  resolveModel,
  type ModelPrice,
  type PriceOverrides,
  type PriceTable,
  type PricingMode,
  type ResolvedModel,
  type TierPrice,
} from './price-table.ts';
export {
  PICO_USD_PER_USD,
  assertValidUsage,
  costOf,
  costOfPicoUsd,
  costPair,
  costPairPico,
  effectiveRates,
  picoUsdToDecimalString,
  picoUsdToNumber,
  type CostPair,
  type CostPairPico,
  type EffectiveRates,
  type TokenUsage,
} from './cost.ts';
export { usageFromOpenAI, usageRecordFrom, type UsageRecord } from './usage.ts';
export {
  DEFAULT_MAX_SAMPLES,
  estimateSavings,
  type BadLine,
  type ModelSavings,
  type SavingsEstimateOptions,
  type SavingsFigures,
  type SavingsReport,
  type UnknownModelUsage,
} from './savings-estimate.ts';
