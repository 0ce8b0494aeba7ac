/**
 * Identifier formats copied from real API objects (reference §1.2, §1.4, §1.7, §4):
 * `batch_` + 32 hex, `file-` + 22 base62, `batch_req_` + 32 hex, `chatcmpl-` + 29 base62,
 * `evt_`/`wh_` + 32 hex, request ids as 32 hex. Object ids are random (unique per process, so a
 * restarted simulator never reuses an id a client may still hold); ids inside result lines are
 * derived from the seed so that outputs are reproducible.
 */
import { createHash, randomBytes } from 'node:crypto';
import { digestOf } from './random.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` base62 characters from `bytes` (cycled when shorter). */
export function base62From(bytes: Buffer, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) {
    const b = bytes[i % bytes.length] ?? 0;
    out += BASE62[(b + Math.floor(i / bytes.length) * 7) % 62];
  }
  return out;
}

/** Random hex string of `n` characters. */
export function randomHex(n: number): string {
  return randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
}

/** Random base62 string of `n` characters. */
export function randomBase62(n: number): string {
  return base62From(randomBytes(n), n);
}

/** Hex digest of the given parts (deterministic), `n` characters. */
export function hashHex(n: number, ...parts: Array<string | number>): string {
  let hex = digestOf(parts, 'hex');
  while (hex.length < n) hex += createHash('sha256').update(hex).digest('hex');
  return hex.slice(0, n);
}

/** Base62 digest of the given parts (deterministic), `n` characters. */
export function hashBase62(n: number, ...parts: Array<string | number>): string {
  return base62From(digestOf(parts, 'buffer'), n);
}

/** `batch_` + 32 hex. */
export const newBatchId = (): string => `batch_${randomHex(32)}`;
/** `file-` + 22 base62. */
export const newFileId = (): string => `file-${randomBase62(22)}`;
/** `x-request-id` value. */
export const newHttpRequestId = (): string => `req_${randomHex(32)}`;
/** Webhook event id. */
export const newEventId = (): string => `evt_${randomHex(32)}`;
/** `webhook-id` header value. */
export const newWebhookId = (): string => `wh_${randomHex(32)}`;

/** Keys grouped by project name: `{ "team-a": ["sk-a1", "sk-a2"] }`. */
export type ProjectKeys = Record<string, readonly string[]>;

/**
 * The project an API key belongs to. On the real API, files and batches belong to the project,
 * so every key of a project sees them. In the simulator a key belongs to:
 * 1. the project that lists it in `projects` (the `projects` option / scenario field), else
 * 2. `<project>` when the key reads `<project>:<secret>` (e.g. `team-a:sk-1`, `team-a:sk-2`), else
 * 3. a project of its own (so unrelated keys never see each other's data).
 * Returns a label for hashing, never shown.
 */
export function projectForKey(apiKey: string, projects: ProjectKeys = {}): string {
  for (const [name, keys] of Object.entries(projects)) if (keys.includes(apiKey)) return `project:${name}`;
  const colon = apiKey.indexOf(':');
  if (colon > 0) return `project:${apiKey.slice(0, colon)}`;
  return apiKey;
}

/**
 * Opaque, stable id of the project of an API key (never the key itself): the owner of files and
 * batches, and the unit of the stats report.
 */
export function clientIdForKey(apiKey: string, projects?: ProjectKeys): string {
  return `key_${hashHex(16, 'client', projectForKey(apiKey, projects))}`;
}

/** The organization id of a key's project (each project is its own organization unless `organization` is set). */
export function organizationForKey(apiKey: string, projects?: ProjectKeys): string {
  return `org-${hashBase62(24, 'org', projectForKey(apiKey, projects))}`;
}
