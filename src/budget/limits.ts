/**
 * The enqueued-token limit actually enforced for a model: what we were told (config or tier table),
 * what the provider told us (a `token_limit_exceeded` message), minus a safety margin.
 */
import { BudgetError } from './budget-error.ts';

/** Fraction of the limit kept free when no margin is given (matches `BUDGET_SAFETY_MARGIN`'s default). */
export const DEFAULT_SAFETY_MARGIN = 0.1;

/** What a `token_limit_exceeded` message says. */
export interface TokenLimitMessage {
  /** The enqueued-token limit, e.g. 2000000. */
  limit: number;
  /** The model named in the message, when present (e.g. `gpt-4o-mini`). */
  model: string | null;
  /** The organisation named in the message, when present. */
  organization: string | null;
}

// "Limit: 2,000,000 enqueued tokens" — digits with correct thousands separators, or plain digits.
const LIMIT_RE = /\bLimit:\s*(\d{1,3}(?:,\d{3})+|\d+)\s+enqueued\s+tokens\b/i;
const MODEL_RE = /enqueued token limit reached for\s+(\S+?)\s+in organization\s+([^\s.]+)/i;

/**
 * Parses a `token_limit_exceeded` batch error, e.g.
 * `Enqueued token limit reached for gpt-4o-mini in organization org-… Limit: 2,000,000 enqueued tokens. Please try again once some in_progress batches have been completed.`
 * Returns `null` when the text states no positive token limit (including the separate
 * "enqueued requests" limit, which is not a token limit).
 */
export function parseTokenLimitMessage(message: string): TokenLimitMessage | null {
  if (typeof message !== 'string') return null;
  const match = LIMIT_RE.exec(message);
  if (!match?.[1]) return null;
  const limit = Number(match[1].replaceAll(',', ''));
  if (!Number.isSafeInteger(limit) || limit <= 0) return null;
  const names = MODEL_RE.exec(message);
  return { limit, model: names?.[1] ?? null, organization: names?.[2] ?? null };
}

/**
 * The enqueued-token limit stated in a `token_limit_exceeded` message (commas optional),
 * or `null` when the message states none. See {@link parseTokenLimitMessage}.
 */
export function parseEnqueuedTokenLimit(message: string): number | null {
  return parseTokenLimitMessage(message)?.limit ?? null;
}

/** Inputs of {@link effectiveLimit}. */
export interface EffectiveLimitInput {
  /** The limit from configuration or the tier table (tokens, > 0). */
  configured: number;
  /** The limit the provider stated in a `token_limit_exceeded` message, if one was seen. */
  learned?: number | null;
  /**
   * Fraction of the limit kept free, in [0, 1).
   * @defaultValue {@link DEFAULT_SAFETY_MARGIN} (0.1)
   */
  safetyMargin?: number;
}

/**
 * The budget to reserve against: `floor(min(configured, learned ?? ∞) × (1 − safetyMargin))`.
 * A learned limit can only lower the configured one, never raise it.
 * @throws BudgetError when `configured`/`learned` are not positive finite numbers or the margin is outside [0, 1).
 */
export function effectiveLimit({ configured, learned, safetyMargin = DEFAULT_SAFETY_MARGIN }: EffectiveLimitInput): number {
  if (!isPositiveFinite(configured)) throw new BudgetError(`configured limit must be a positive number, got ${String(configured)}`);
  if (learned != null && !isPositiveFinite(learned)) throw new BudgetError(`learned limit must be a positive number, got ${String(learned)}`);
  if (typeof safetyMargin !== 'number' || !(safetyMargin >= 0 && safetyMargin < 1)) {
    throw new BudgetError(`safetyMargin must be in [0, 1), got ${String(safetyMargin)}`);
  }
  const raw = Math.min(configured, learned ?? Infinity) * (1 - safetyMargin);
  // 90_000 × 0.9 is 81000.00000000001 and some products land a hair below an integer: snap those first.
  const nearest = Math.round(raw);
  return Math.abs(raw - nearest) < 1e-6 ? nearest : Math.floor(raw);
}

/**
 * Whether a reservation of `tokens` could ever be granted under `limit`, even with nothing else
 * reserved. When it is false, waiting for room is pointless: fail the item or split the batch.
 */
export function fitsWithinLimit(tokens: number, limit: number): boolean {
  return tokens <= limit;
}

function isPositiveFinite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}
