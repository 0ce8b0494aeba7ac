import { BatchfleetError } from '../../errors.ts';

/** Default message prefix of an {@link UnpricedTokensError}. */
export const UNPRICED_TOKENS_ERROR = 'batchfleet:pricing:unpricedTokens';

/**
 * Usage has tokens of a kind the model's price entry has no rate for (output tokens on an
 * embedding model, whose output rate is `null`). Thrown instead of costing them at zero.
 */
export class UnpricedTokensError extends BatchfleetError {
  constructor(
    readonly kind: 'output',
    readonly model?: string,
    message: string = `${UNPRICED_TOKENS_ERROR}: ${kind} tokens have no price` +
      `${model ? ` for model "${model}"` : ''} (the price entry's ${kind} rate is null)`,
  ) {
    super(message);
  }
}
