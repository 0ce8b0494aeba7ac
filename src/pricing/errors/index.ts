/** Typed pricing errors, one class per file (BullMQ idiom). */
export { INVALID_PRICE_TABLE_ERROR, InvalidPriceTableError, type PriceTableIssue } from './invalid-price-table-error.ts';
export { INVALID_USAGE_ERROR, InvalidUsageError } from './invalid-usage-error.ts';
export { UNKNOWN_MODEL_ERROR, UnknownModelError } from './unknown-model-error.ts';
export { UNPRICED_TOKENS_ERROR, UnpricedTokensError } from './unpriced-tokens-error.ts';
export { USAGE_SHAPE_ERROR, UsageShapeError } from './usage-shape-error.ts';
