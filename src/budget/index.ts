/** Enqueued-token budget: default limits per tier, limits learned from errors, and Redis reservations. */
export { BUDGET_ERROR, BudgetError, type BudgetErrorCode } from './budget-error.ts';
export {
  DEFAULT_SAFETY_MARGIN,
  effectiveLimit,
  fitsWithinLimit,
  parseEnqueuedTokenLimit,
  parseTokenLimitMessage,
  type EffectiveLimitInput,
  type TokenLimitMessage,
} from './limits.ts';
export {
  MODEL_QUEUE_LIMITS,
  TIERS,
  TIER_LIMITS_SOURCE,
  defaultLimitFor,
  parseTier,
  resolveModelLimits,
  type LimitConfidence,
  type ModelQueueLimits,
  type Tier,
  type TierLimits,
} from './tier-limits.ts';
export {
  TokenBudget,
  type BudgetKeys,
  type BudgetSnapshot,
  type Reservation,
  type ReserveResult,
  type TokenBudgetOptions,
} from './token-budget.ts';
