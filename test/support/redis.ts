import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { runTag } from './run-tag.ts';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Where this run's test prefixes start, `bft-<run tag>-`: the global setup (`redis-leaks.ts`)
 * looks here at the end for keys a test left behind.
 */
export function runPrefix(): string {
  return `bft-${runTag()}-`;
}

/** A fresh BullMQ/Redis prefix for one test (`label` says whose, in a leak report). */
export function testPrefix(label: string): string {
  return `${runPrefix()}${label}-${randomUUID().slice(0, 8)}`;
}

/** Every key matching `pattern`, scanned in pages (never KEYS: other files share this Redis). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/** Deletes `keys`, a thousand per DEL; returns how many existed. */
export async function deleteKeys(redis: Redis, keys: readonly string[]): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < keys.length; i += 1000) deleted += await redis.del(...keys.slice(i, i + 1000));
  return deleted;
}

/** Deletes every Redis key under `<prefix>:` (never FLUSHALL: other files share this Redis); returns how many. */
export async function deletePrefix(prefix: string, redisUrl = REDIS_URL): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    return await deleteKeys(redis, await scanKeys(redis, `${prefix}:*`));
  } finally {
    redis.disconnect();
  }
}
