/*
 * SafeWorker's `fetchNextOnFinish: false` (the intake role's setting): the Redis call that finishes
 * a job does not also take the next one, whose data BullMQ would then join into a string; the
 * worker takes every job with its own call, and none is left behind.
 */
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { SafeWorker, type SafeWorkerOptions } from '../../src/queues/safe-worker.ts';
import { REDIS_URL, deletePrefix, testPrefix } from '../support/redis.ts';
import { waitFor } from '../support/wait.ts';

const JOBS = 12;
const prefixes: string[] = [];

/** Records, for each finished job, whether the worker asked for the next job in the same call. */
class RecordingWorker extends SafeWorker<{ blob: string }, number> {
  readonly askedForNext: boolean[] = [];

  protected override handleCompleted(result: number, job: Job<{ blob: string }, number>, token: string, fetchNextCallback?: () => boolean) {
    this.askedForNext.push(fetchNextCallback ? fetchNextCallback() : true);
    return super.handleCompleted(result, job, token, fetchNextCallback);
  }
}

async function drain(own: SafeWorkerOptions): Promise<{ askedForNext: boolean[]; sum: number }> {
  const prefix = testPrefix('safe-worker');
  prefixes.push(prefix);
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue<{ blob: string }>('big', { connection, prefix });
  const blob = 'á'.repeat(200_000); // two-byte text, as a payload with one accented name is
  await queue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'big', data: { blob: `${i}:${blob}` } })));
  let sum = 0;
  const worker = new RecordingWorker('big', async (job) => {
    const n = Number(job.data.blob.slice(0, job.data.blob.indexOf(':')));
    sum += n;
    return job.data.blob.length;
  }, { connection, prefix, concurrency: 2 }, own);
  try {
    await waitFor('every job completed', async () => (await queue.getJobCounts('completed')).completed === JOBS, 60_000);
    return { askedForNext: worker.askedForNext, sum };
  } finally {
    await worker.close();
    await queue.close();
    connection.disconnect();
  }
}

afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p);
});

describe('SafeWorker fetchNextOnFinish', () => {
  it('false: every job runs once, and no finishing call takes the next job', async () => {
    const r = await drain({ fetchNextOnFinish: false });
    expect(r.sum).toBe((JOBS * (JOBS - 1)) / 2);
    expect(r.askedForNext).toHaveLength(JOBS);
    expect(r.askedForNext.every((asked) => asked === false)).toBe(true);
  });

  it("default (BullMQ's): the finishing call takes the next job while the worker has room", async () => {
    const r = await drain({});
    expect(r.sum).toBe((JOBS * (JOBS - 1)) / 2);
    expect(r.askedForNext).toHaveLength(JOBS);
    expect(r.askedForNext.some((asked) => asked)).toBe(true);
  });
});
