/**
 * OpenAI's HTTP error envelope `{error: {message, type, param, code}}` (all four keys always
 * present, reference §1.8) and the messages the simulator uses. Messages marked "real" are copied
 * from observed API output; the others are written in OpenAI's style and documented as such.
 */

/** The body OpenAI returns with every non-2xx status. */
export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error that becomes an OpenAI-shaped HTTP response. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }

  /** The wire body. */
  toEnvelope(): ErrorEnvelope {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** Real message for a request without an API key. */
export const MISSING_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.";

/** Real message for an unparseable JSON body. */
export const INVALID_JSON_BODY_MESSAGE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

/** Real 500 message. */
export const SERVER_ERROR_MESSAGE =
  'The server had an error while processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if the error persists.';

/** Real 503 message. */
export const OVERLOADED_MESSAGE = 'The engine is currently overloaded, please try again later.';

/** 401 for a request without a Bearer key. */
export const unauthorized = (): ApiError => new ApiError(401, MISSING_KEY_MESSAGE, 'invalid_request_error', null, null);

/** 404 for a route that does not exist (real text). */
export const invalidUrl = (method: string, path: string): ApiError =>
  new ApiError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null, null);

/** 404 for an unknown, deleted, expired or not-yet-visible file. */
export const fileNotFound = (id: string, param: string | null = 'id'): ApiError =>
  new ApiError(404, `No such File object: ${id}`, 'invalid_request_error', param, null);

/** 404 for an unknown or not-yet-visible batch. */
export const batchNotFound = (id: string): ApiError =>
  new ApiError(404, `No batch found with id '${id}'.`, 'invalid_request_error', null, null);

/** 400 `missing_required_parameter`. */
export const missingParam = (param: string): ApiError =>
  new ApiError(400, `Missing required parameter: '${param}'.`, 'invalid_request_error', param, 'missing_required_parameter');

/** 400 `invalid_value`. */
export const invalidValue = (param: string, message: string): ApiError =>
  new ApiError(400, message, 'invalid_request_error', param, 'invalid_value');

/** 400 `invalid_type`. */
export const invalidType = (param: string, expected: string): ApiError =>
  new ApiError(400, `Invalid type for '${param}': expected ${expected}.`, 'invalid_request_error', param, 'invalid_type');

/** 429 `rate_limit_exceeded` with `retry-after` and `retry-after-ms`. */
export const rateLimited = (retryAfterSeconds: number): ApiError =>
  new ApiError(
    429,
    `Rate limit reached for requests. Please try again in ${retryAfterSeconds}s.`,
    'requests',
    null,
    'rate_limit_exceeded',
    { 'retry-after': String(retryAfterSeconds), 'retry-after-ms': String(retryAfterSeconds * 1000) },
  );

/** 500 `server_error` (real text). */
export const serverError = (): ApiError => new ApiError(500, SERVER_ERROR_MESSAGE, 'server_error', null, null);

/** 503 overloaded (real text). */
export const overloaded = (): ApiError => new ApiError(503, OVERLOADED_MESSAGE, 'server_error', null, 'overloaded');
