/** Parameter checks shared by the routes, with OpenAI-style 400s. */
import { ApiError, invalidType, invalidValue } from '../errors.ts';

/** Parse an integer query parameter within [min, max]. */
export function intParam(query: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw invalidType(name, 'an integer');
  const n = Number(raw);
  if (n < min) {
    throw new ApiError(400, `Invalid '${name}': integer below minimum value. Expected a value >= ${min}, but got ${n} instead.`, 'invalid_request_error', name, 'integer_below_min_value');
  }
  if (n > max) {
    throw new ApiError(400, `Invalid '${name}': integer above maximum value. Expected a value <= ${max}, but got ${n} instead.`, 'invalid_request_error', name, 'integer_above_max_value');
  }
  return n;
}

/** Check an `expires_after` object: anchor `created_at`, 3600 <= seconds <= 2592000. Returns seconds. */
export function expiresAfter(param: string, anchor: unknown, seconds: unknown): number {
  if (anchor !== 'created_at') {
    throw invalidValue(`${param}.anchor`, `Invalid value for '${param}.anchor': expected 'created_at'.`);
  }
  const n = typeof seconds === 'string' && /^\d+$/.test(seconds) ? Number(seconds) : seconds;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw invalidType(`${param}.seconds`, 'an integer');
  if (n < 3600 || n > 2_592_000) {
    throw invalidValue(`${param}.seconds`, `Invalid '${param}.seconds': expected a value between 3600 and 2592000, but got ${n} instead.`);
  }
  return n;
}

/** Check `metadata`: at most 16 string pairs, keys <= 64 chars, values <= 512 chars. */
export function metadataParam(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidType('metadata', 'an object');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 16) throw invalidValue('metadata', `Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got ${entries.length} instead.`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (k.length > 64) throw invalidValue('metadata', `Invalid 'metadata': key '${k.slice(0, 20)}…' is longer than 64 characters.`);
    if (typeof v !== 'string') throw invalidType(`metadata.${k}`, 'a string');
    if (v.length > 512) throw invalidValue(`metadata.${k}`, `Invalid 'metadata.${k}': string too long. Expected a string with maximum length 512, but got a string with length ${v.length} instead.`);
    out[k] = v;
  }
  return out;
}
