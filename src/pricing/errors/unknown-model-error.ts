import { BatchfleetError } from '../../errors.ts';

/** Default message prefix of an {@link UnknownModelError}. */
export const UNKNOWN_MODEL_ERROR = 'batchfleet:pricing:unknownModel';

/**
 * A model with no entry in the price table. Thrown instead of costing the work at zero:
 * add the model with a price override (`PRICE_OVERRIDES`) to cost it.
 */
export class UnknownModelError extends BatchfleetError {
  constructor(
    readonly model: string,
    readonly priceTableVersion?: string,
    message: string = `${UNKNOWN_MODEL_ERROR}: no price for model "${model}"` +
      `${priceTableVersion ? ` in price table ${priceTableVersion}` : ''}; add it with a price override`,
  ) {
    super(message);
  }
}
