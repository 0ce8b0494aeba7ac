import { BatchfleetError } from '../../errors.ts';

/** Default message prefix of an {@link InvalidPriceTableError}. */
export const INVALID_PRICE_TABLE_ERROR = 'batchfleet:pricing:invalidPriceTable';

/** One rejected field of a price override: `path` is e.g. `models["gpt-4.1"].batch.output`. */
export interface PriceTableIssue {
  path: string;
  message: string;
}

/** A price override (or table) that failed validation. `issues` names every bad field. */
export class InvalidPriceTableError extends BatchfleetError {
  constructor(
    readonly issues: readonly PriceTableIssue[],
    message: string = `${INVALID_PRICE_TABLE_ERROR}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
  ) {
    super(message);
  }
}
