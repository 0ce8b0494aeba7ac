import { BatchfleetError } from '../errors.ts';

/** Default message of a {@link BudgetError}. */
export const BUDGET_ERROR = 'batchfleet:budget';

/**
 * Why a budget call was refused.
 * - `invalid-argument`: a model, batch id, token count, limit, margin or prefix that cannot be used.
 * - `duplicate-batch-id`: `replace()` was given the same batch id twice.
 * - `unexpected-reply`: Redis answered a budget script with something it never returns (corrupt state).
 */
export type BudgetErrorCode = 'invalid-argument' | 'duplicate-batch-id' | 'unexpected-reply';

/**
 * A token-budget call with bad input or an impossible Redis reply. Never thrown for "no room":
 * a full budget is an ordinary `{ ok: false }` result of `TokenBudget.reserve()`.
 */
export class BudgetError extends BatchfleetError {
  constructor(
    message: string = BUDGET_ERROR,
    readonly code: BudgetErrorCode = 'invalid-argument',
  ) {
    super(message);
  }
}
