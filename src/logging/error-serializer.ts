import { stdSerializers } from 'pino';
import { redactValue } from './redaction.ts';

/** Options of {@link createErrorSerializer}. */
export interface ErrorSerializerOptions {
  /** Redact body keys (and `response` / `request`) inside the error. @defaultValue true */
  bodies?: boolean;
}

/**
 * A pino serializer for errors that cannot leak credentials: the error is serialized with
 * pino's `errWithCause` (type, message, stack, enumerable fields, `cause` chain), then every
 * string in it (message and stack included) is scrubbed of `Bearer …` / `sk-…` / `whsec_…` /
 * URL credentials, secret keys (`headers.authorization`, `apiKey`…) are redacted at any depth,
 * and bodies (`body`, `messages`…, plus `response` / `request`) unless `bodies` is false.
 * The openai SDK can put request headers or bodies into errors; this is what keeps them out.
 * Non-error values are redacted the same way.
 */
export function createErrorSerializer(options: ErrorSerializerOptions = {}): (err: unknown) => unknown {
  const bodies = options.bodies ?? true;
  const serialize = (err: unknown): unknown => {
    let value: unknown = err;
    if (err instanceof Error) {
      try {
        value = stdSerializers.errWithCause(err);
      } catch {
        value = { type: err.name, message: err.message, stack: err.stack };
      }
    }
    return redactValue(value, { bodies, errorKeys: true, scrubStrings: true, serializeError: serialize });
  };
  return serialize;
}

/** The default error serializer (bodies redacted). */
export const errorSerializer: (err: unknown) => unknown = createErrorSerializer();

