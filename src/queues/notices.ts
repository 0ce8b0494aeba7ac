/**
 * Producer notices: when a task's work is held (token budget, spend cap, provider limit), the
 * fleet writes a small expiring Redis key per task that the producer client reads
 * (`client.status(task)`). The key expires on its own once holds stop being renewed, so no code
 * path has to remember to clear it; a submitted batch clears it early.
 */
import { z } from 'zod';
import { holdNoticeKey } from './names.ts';

/** Why a task's work waits, as a producer may show it to its own users. */
export const holdNoticeSchema = z.object({
  task: z.string(),
  /** `budget` (token budget / concurrency), `spend_cap`, `provider_limit`, or `other`. */
  kind: z.enum(['budget', 'spend_cap', 'provider_limit', 'other']),
  /** The fleet's own reason text (no prompt content). */
  reason: z.string(),
  since: z.string(),
  /** When the fleet will try again (ISO time); the wait may repeat while the cause lasts. */
  retryAt: z.string(),
  batchId: z.string().optional(),
});
export type HoldNotice = z.infer<typeof holdNoticeSchema>;

export { holdNoticeKey };

/** Classifies a hold reason from the submit gate into the kind a producer sees. */
export function holdKind(reason: string): HoldNotice['kind'] {
  const r = reason.toLowerCase();
  if (/spend|cap|usd|\$/.test(r)) return 'spend_cap';
  if (/budget|token|in flight|in-flight|concurren/.test(r)) return 'budget';
  if (/rate|limit|quota|429|provider/.test(r)) return 'provider_limit';
  return 'other';
}

/**
 * The key, value and time-to-live the fleet writes when it holds a batch of `task` (pure).
 * The notice lives three retry intervals (at least a minute), so it outlives one missed renewal.
 */
export function holdNoticeEntry(
  prefix: string,
  hold: { task: string; reason: string; retryInMs: number; batchId?: string; since?: Date },
  now: Date = new Date(),
): { key: string; value: string; ttlMs: number } {
  const notice: HoldNotice = {
    task: hold.task,
    kind: holdKind(hold.reason),
    reason: hold.reason,
    since: (hold.since ?? now).toISOString(),
    retryAt: new Date(now.getTime() + hold.retryInMs).toISOString(),
    ...(hold.batchId ? { batchId: hold.batchId } : {}),
  };
  return { key: holdNoticeKey(prefix, hold.task), value: JSON.stringify(notice), ttlMs: Math.max(60_000, 3 * hold.retryInMs) };
}

/** Anything with Redis's SET … PX and DEL (an ioredis client). */
export interface NoticeWriter {
  set(key: string, value: string, px: 'PX', ms: number): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

/** Writes the hold notice of a task (the fleet calls this from the submit stage's hold). */
export async function publishHoldNotice(redis: NoticeWriter, prefix: string, hold: Parameters<typeof holdNoticeEntry>[1], now: Date = new Date()): Promise<void> {
  const { key, value, ttlMs } = holdNoticeEntry(prefix, hold, now);
  await redis.set(key, value, 'PX', ttlMs);
}

/** Clears a task's hold notice (when one of its batches is submitted). */
export async function clearHoldNotice(redis: NoticeWriter, prefix: string, task: string): Promise<void> {
  await redis.del(holdNoticeKey(prefix, task));
}
