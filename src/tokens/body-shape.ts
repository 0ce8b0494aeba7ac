import { TokenEstimationError } from './errors.ts';

/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A {@link TokenEstimationError} saying that `path` is malformed. */
export function malformed(path: string, problem: string): TokenEstimationError {
  return new TokenEstimationError(`${path} ${problem}`, { code: 'MALFORMED_BODY', path });
}

/** A {@link TokenEstimationError} saying that the input at `path` cannot be estimated. */
export function unsupported(path: string, problem: string): TokenEstimationError {
  return new TokenEstimationError(`${path}: ${problem}`, { code: 'UNSUPPORTED_INPUT', path });
}

/** Describes a JSON value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Removes one trailing "." as the cookbook does for tool and property descriptions. */
export function stripFinalDot(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}
