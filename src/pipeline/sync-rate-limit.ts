/*
 * Fleet-wide request rate for sync mode: at most SYNC_RPM requests per minute per model, across
 * every process sharing one Redis prefix.
 *
 * Why it works this way: each model has one Redis key holding the earliest time (Redis clock,
 * microseconds) at which the next request may be sent. A Lua script (atomic, so no two callers get
 * the same slot) hands out that slot and moves the key one interval (60 s / rpm) further; the
 * caller sleeps until its slot. Requests are therefore spaced evenly, never bursting: any window of
 * T seconds holds at most ceil(T × rpm / 60) + 1 sends. Slots are reservations, so callers are
 * served first come, first served, and nobody polls Redis in a loop. Using the Redis clock keeps
 * processes with skewed clocks in step. A slot taken by a caller that then dies is simply lost
 * (the fleet sends a little less, never more). The key expires once idle, so it needs no
 * reconciling: losing it only forgets past slots.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** KEYS[1] next free slot (µs, Redis clock). ARGV[1] interval (µs). Returns the wait before the caller's slot (µs). */
const TAKE_SLOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local nextSlot = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', nextSlot), 'PX', math.floor((nextSlot - now) / 1000) + 60000)
return math.floor(slot - now)
`;
const TAKE_SLOT_SHA = createHash('sha1').update(TAKE_SLOT).digest('hex');

export class SyncRateLimiter {
  private readonly intervalUs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Requests per minute per model, fleet-wide. */
    readonly rpm: number,
  ) {
    if (!(rpm > 0)) throw new RangeError(`sync rate must be positive, got ${rpm}`);
    this.intervalUs = Math.max(1, Math.round(60_000_000 / rpm));
  }

  /** The Redis key of a model's next free slot (hash-tagged on the model, like the token budget). */
  key(model: string): string {
    return `${this.prefix}:sync-rate:{${model}}`;
  }

  /** Takes the next slot for `model` and resolves when it is due. Returns the time waited (ms). */
  async acquire(model: string, signal?: AbortSignal): Promise<number> {
    const waitUs = await this.takeSlot(model);
    const waitMs = Math.ceil(waitUs / 1000);
    if (waitMs > 0) await sleep(waitMs, signal);
    return waitMs;
  }

  private async takeSlot(model: string): Promise<number> {
    const key = this.key(model);
    try {
      return Number(await this.redis.evalsha(TAKE_SLOT_SHA, 1, key, this.intervalUs));
    } catch (err) {
      if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
      return Number(await this.redis.eval(TAKE_SLOT, 1, key, this.intervalUs));
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
