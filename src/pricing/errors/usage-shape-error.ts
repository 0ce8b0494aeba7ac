import { BatchfleetError } from '../../errors.ts';

/** Default message of a {@link UsageShapeError}. */
export const USAGE_SHAPE_ERROR = 'batchfleet:pricing:usageShape';

/** A usage object (or usage record) that cannot be read; the message names the bad field. */
export class UsageShapeError extends BatchfleetError {
  constructor(message: string = USAGE_SHAPE_ERROR) {
    super(message);
  }
}
