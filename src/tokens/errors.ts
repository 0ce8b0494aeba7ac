/** Machine-readable reason carried by a {@link TokenEstimationError}. */
export type TokenEstimationErrorCode =
  /** The batch endpoint is not one the counter knows how to estimate. */
  | 'UNSUPPORTED_ENDPOINT'
  /** The request body does not have the shape the endpoint requires. */
  | 'MALFORMED_BODY'
  /** The body is well formed but contains input whose token cost cannot be estimated (audio, files). */
  | 'UNSUPPORTED_INPUT'
  /** A direct API argument (model, text, image size, option) is invalid. */
  | 'INVALID_ARGUMENT'
  /** A text is longer than the counter accepts (its time and memory are bounded). */
  | 'INPUT_TOO_LARGE';

/** Options accepted by {@link TokenEstimationError}. */
export interface TokenEstimationErrorOptions {
  /** @defaultValue 'MALFORMED_BODY' */
  code?: TokenEstimationErrorCode;
  /** Where in the request the problem is, e.g. `body.messages[2].content`. */
  path?: string;
  cause?: unknown;
}

/**
 * Thrown when the input tokens of a request (or a piece of text or an image) cannot be estimated.
 * The message names what is wrong; `code` and `path` say the same for programs.
 */
export class TokenEstimationError extends Error {
  readonly code: TokenEstimationErrorCode;
  readonly path: string | undefined;

  constructor(message: string, options: TokenEstimationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
    this.code = options.code ?? 'MALFORMED_BODY';
    this.path = options.path;
  }
}
