import { BatchfleetError } from '../../errors.ts';

/** Default message prefix of an {@link InvalidUsageError}. */
export const INVALID_USAGE_ERROR = 'batchfleet:pricing:invalidUsage';

/** Token usage that cannot be costed: a negative, fractional or unsafe count, or more cached than input tokens. */
export class InvalidUsageError extends BatchfleetError {
  constructor(
    readonly field: string,
    readonly reason: string,
    message: string = `${INVALID_USAGE_ERROR}: ${field} ${reason}`,
  ) {
    super(message);
  }
}
