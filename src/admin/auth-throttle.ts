import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';

/** Options of {@link authThrottle}. */
export interface AuthThrottleOptions {
  /** Failed attempts allowed per client within `windowMs`. @defaultValue 10 */
  maxFailures?: number;
  /** @defaultValue 60_000 */
  windowMs?: number;
  /** Clients tracked at most (the table is cleared past this, so a flood cannot grow it). @defaultValue 10_000 */
  maxClients?: number;
  now?: () => number;
}

/** The client address as the socket reports it (proxies are not trusted). */
export function clientAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}

/**
 * Throttles failed authentication: put it in front of an auth middleware. Each 401 the inner handlers
 * answer counts against the client's address; past `maxFailures` within `windowMs`, the client gets
 * 429 with Retry-After until the window ends, without its credentials being checked at all.
 */
export function authThrottle(options: AuthThrottleOptions = {}): MiddlewareHandler {
  const maxFailures = options.maxFailures ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const maxClients = options.maxClients ?? 10_000;
  const now = options.now ?? Date.now;
  const failures = new Map<string, { count: number; resetAt: number }>();
  return async (c, next) => {
    const who = clientAddress(c);
    const t = now();
    let entry = failures.get(who);
    if (entry && entry.resetAt <= t) {
      failures.delete(who);
      entry = undefined;
    }
    if (entry && entry.count >= maxFailures) {
      const retryAfter = Math.max(1, Math.ceil((entry.resetAt - t) / 1000));
      return c.text('too many failed login attempts; try again later\n', 429, { 'retry-after': String(retryAfter) });
    }
    const fail = () => {
      if (!entry) {
        if (failures.size >= maxClients) failures.clear();
        entry = { count: 0, resetAt: t + windowMs };
        failures.set(who, entry);
      }
      entry.count++;
    };
    try {
      await next();
    } catch (err) {
      // hono's auth middlewares throw an HTTPException carrying the 401.
      if (err instanceof HTTPException && err.status === 401) fail();
      throw err;
    }
    if (c.res.status === 401) fail();
  };
}
