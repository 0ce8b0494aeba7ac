import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { resolveDelivery, type AnyTask } from '../tasks/contract.ts';
import { droppedResultsKey } from './names.ts';
import { resultJobs, type CommittedResult } from './result-jobs.ts';

export { droppedResultsKey };

/**
 * Publishes committed results on the task's results queue (after commit; job ids make a re-run
 * add nothing), then enforces `retention.maxWaiting`: when nobody consumes, the oldest unconsumed
 * jobs are removed and counted, so an idle consumer cannot fill Redis. Returns the jobs added.
 */
export async function publishResults(queue: Queue, redis: Redis, task: Pick<AnyTask, 'name' | 'delivery'>, rows: readonly CommittedResult[]): Promise<number> {
  const jobs = resultJobs(task, rows);
  if (jobs.length === 0) return 0;
  await queue.addBulk(jobs);
  await trimWaiting(queue, redis, task);
  return jobs.length;
}

/** Removes the oldest waiting jobs above the task's `maxWaiting`; returns how many went. */
export async function trimWaiting(queue: Queue, redis: Redis, task: Pick<AnyTask, 'name' | 'delivery'>): Promise<number> {
  const max = resolveDelivery(task).retention.maxWaiting;
  const excess = (await queue.getWaitingCount()) - max;
  if (excess <= 0) return 0;
  const ids = await queue.getRanges(['wait'], 0, excess - 1, true); // oldest first
  let removed = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const results = await Promise.all(ids.slice(i, i + 500).map((id: string) => queue.remove(id).catch(() => 0)));
    removed += results.filter((r: number) => r === 1).length;
  }
  if (removed > 0) await redis.incrby(droppedResultsKey(queue.opts.prefix ?? 'bull', task.name), removed);
  return removed;
}
