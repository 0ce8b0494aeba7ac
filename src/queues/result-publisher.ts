import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { resolveDelivery, type AnyTask } from '../tasks/contract.ts';
import { droppedResultsKey } from './names.ts';
import { resultsInJob } from './result-chunks.ts';
import { resultJobs, type CommittedResult } from './result-jobs.ts';

export { droppedResultsKey };

/**
 * Publishes committed results on the task's results queue, one job per chunk (after commit; job
 * ids make a re-run add nothing), then enforces `retention.maxWaiting`: when nobody consumes, the
 * oldest unconsumed jobs are removed and their results counted, so an idle consumer cannot fill
 * Redis. Returns the results published.
 */
export async function publishResults(queue: Queue, redis: Redis, task: Pick<AnyTask, 'name' | 'delivery'>, rows: readonly CommittedResult[]): Promise<number> {
  const jobs = resultJobs(task, rows);
  if (jobs.length === 0) return 0;
  await queue.addBulk(jobs);
  await trimWaiting(queue, redis, task);
  return jobs.reduce((n, job) => n + job.data.results.length, 0);
}

/**
 * Removes the oldest waiting jobs, whole, until at most `maxWaiting` results wait; returns how many
 * results went. Sizes come from the job ids, so this reads one list, then removes in one burst.
 */
export async function trimWaiting(queue: Queue, redis: Redis, task: Pick<AnyTask, 'name' | 'delivery'>): Promise<number> {
  const max = resolveDelivery(task).retention.maxWaiting;
  const ids = await queue.getRanges(['wait'], 0, -1, true); // oldest first
  let waiting = ids.reduce((n, id) => n + resultsInJob(id), 0);
  const drop: string[] = [];
  for (const id of ids) {
    if (waiting <= max) break;
    drop.push(id);
    waiting -= resultsInJob(id);
  }
  if (drop.length === 0) return 0;
  // A job a consumer took meanwhile is not removed (remove answers 0) and not counted.
  const removed = await Promise.all(drop.map((id) => queue.remove(id).then((r: number) => (r === 1 ? resultsInJob(id) : 0), () => 0)));
  const dropped = removed.reduce((a, b) => a + b, 0);
  if (dropped > 0) await redis.incrby(droppedResultsKey(queue.opts.prefix ?? 'bull', task.name), dropped);
  return dropped;
}
