/**
 * Global setup: the Redis half of the leak guard. Test files share one Redis and run in parallel,
 * so no file can check the whole of it; instead every test prefix carries this run's tag
 * (`testPrefix`), and when the run ends any key left under the tag fails it, named by prefix.
 * A child process given a prefix (a worker, the CLI) leaves keys its test must delete too.
 */
import { Redis } from 'ioredis';
import { deleteKeys, REDIS_URL, runPrefix, scanKeys } from './redis.ts';
import { ensureRunTag } from './run-tag.ts';

export default function setup(): () => Promise<void> {
  ensureRunTag();
  return async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    try {
      await redis.connect();
    } catch {
      return; // no Redis (a unit-only run without it): nothing can have been left there
    }
    try {
      const keys = await scanKeys(redis, `${runPrefix()}*`);
      if (keys.length === 0) return;
      const byPrefix = new Map<string, number>();
      for (const key of keys) {
        const prefix = key.split(':', 1)[0]!;
        byPrefix.set(prefix, (byPrefix.get(prefix) ?? 0) + 1);
      }
      await deleteKeys(redis, keys);
      const list = [...byPrefix].map(([prefix, n]) => `${prefix} (${n})`).join(', ');
      console.error(`redis leak guard: tests left ${keys.length} Redis key(s) under ${list}; delete a test's prefix when it ends (deletePrefix)`);
      process.exitCode = 1;
    } finally {
      redis.disconnect();
    }
  };
}
