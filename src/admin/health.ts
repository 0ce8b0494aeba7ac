import type { Hono } from 'hono';
import { ping } from '../store/read-models/index.ts';
import type { PipelineContext } from '../pipeline/context.ts';

/** A check that fails instead of hanging (the shared Redis connection queues commands while it reconnects). */
async function check(what: string, ms: number, fn: () => Promise<unknown>): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
    return null;
  } catch (err) {
    return `${what}: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz`: the process is up (liveness; never touches a dependency, so a Redis outage does not
 * get every pod restarted). `/readyz`: Redis answers PING and PostgreSQL answers a trivial query (readiness);
 * 503 naming which dependency failed (the error itself is only logged).
 */
export function mountHealth(app: Hono, ctx: PipelineContext, timeoutMs = 2_000): void {
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const failures = (
      await Promise.all([
        check('redis', timeoutMs, () => ctx.redis.ping()),
        check('postgres', timeoutMs, () => ping(ctx.db)),
      ])
    ).filter((f): f is string => f !== null);
    if (failures.length > 0) {
      ctx.log.warn({ failures: failures.map((f) => f.slice(0, 300)) }, 'not ready');
      // Names only: driver error text (hosts, users, versions) stays in the log, never in a public body.
      return c.json({ status: 'unavailable', failed: failures.map((f) => f.split(':')[0]) }, 503);
    }
    return c.json({ status: 'ready', checks: { redis: 'ok', postgres: 'ok' } });
  });
}
