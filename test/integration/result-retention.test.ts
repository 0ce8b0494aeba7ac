/*
 * Redis memory of result jobs with the default delivery settings: 100,000 results go through the
 * fleet's publisher (the code `announce` runs after each commit), first with nobody consuming,
 * then with a consumer draining the queue. Both stay under `resultMemoryBound(DEFAULT_DELIVERY)`.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.ts';
import { resultsQueueName } from '../../src/queues/names.ts';
import { resultMemoryBound, type CommittedResult } from '../../src/queues/result-jobs.ts';
import { droppedResultsKey, publishResults } from '../../src/queues/result-publisher.ts';
import { DEFAULT_DELIVERY } from '../../src/tasks/contract.ts';
import { classifyTicket } from '../../src/tasks/index.ts';
import { deletePrefix, REDIS_URL } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

const RESULTS = 100_000;
const CHUNK = 1_000;
const prefix = `bft-ret-${randomUUID().slice(0, 8)}`;
const task = classifyTicket;
let redis: Redis;
let queue: Queue;

/** Bytes held by every Redis key of the task's results queue (job hashes, lists, sets, event stream). */
async function resultsMemory(): Promise<{ bytes: number; keys: number }> {
  let cursor = '0';
  let bytes = 0;
  let keys = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:${resultsQueueName(task.name)}:*`, 'COUNT', 2_000);
    cursor = next;
    if (found.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of found) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    for (const [, size] of (await pipeline.exec()) ?? []) bytes += Number(size ?? 0);
    keys += found.length;
  } while (cursor !== '0');
  return { bytes, keys };
}

function committed(i: number): CommittedResult {
  return {
    id: randomUUID(), external_id: `ret-${i}`, status: i % 50 === 0 ? 'failed' : 'succeeded',
    output: { category: 'bug', priority: 'high', summary: `The customer cannot log in since the update (ticket ${i}).` },
    error_code: i % 50 === 0 ? 'schema_mismatch' : null, error_message: i % 50 === 0 ? 'the answer does not match the schema' : null,
    attempts: 1, requeues: 0, input_tokens: 180, cached_tokens: 0, output_tokens: 40, cost_usd: 0.0000513, finished_at: new Date(),
    history: i % 50 === 0 ? [{ batchId: randomUUID(), outcome: 'failed', errorCode: 'schema_mismatch', errorMessage: 'no', inputTokens: 180, outputTokens: 40, costUsd: 0.0000513, at: new Date().toISOString() }] : null,
  };
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(resultsQueueName(task.name), { connection: redis, prefix });
});
afterAll(async () => {
  await queue?.close();
  await deletePrefix(prefix);
  redis?.disconnect();
});

describe('result jobs in Redis with the default delivery settings', () => {
  it('stay under the configured bound after 100,000 results, consumed or not', async () => {
    const bound = resultMemoryBound(DEFAULT_DELIVERY);
    for (let i = 0; i < RESULTS; i += CHUNK) {
      await publishResults(queue, redis, task, Array.from({ length: CHUNK }, (_, j) => committed(i + j)));
    }
    const idle = await resultsMemory();
    const counts = await queue.getJobCounts('waiting', 'completed', 'failed');
    const dropped = Number(await redis.get(droppedResultsKey(prefix, task.name)));
    console.log(`nobody consuming: ${counts.waiting} waiting, ${dropped} dropped, ${idle.keys} keys, ${(idle.bytes / 2 ** 20).toFixed(1)} MiB of ${(bound / 2 ** 20).toFixed(1)} MiB bound`);
    expect(counts.waiting).toBe(DEFAULT_DELIVERY.retention.maxWaiting);
    expect(dropped).toBe(RESULTS - DEFAULT_DELIVERY.retention.maxWaiting);
    expect(idle.bytes).toBeLessThan(bound);
    // The newest results are the ones kept.
    const kept = (await queue.getWaiting(0, -1)).map((job) => Number(job.name.slice('ret-'.length)));
    expect(Math.min(...kept)).toBe(RESULTS - DEFAULT_DELIVERY.retention.maxWaiting);
    expect(Math.max(...kept)).toBe(RESULTS - 1);

    const client = createClient({ redis, prefix, tasks: [task] });
    let handled = 0;
    const consumer = await client.onResult(task, () => void handled++, { concurrency: 50 });
    try {
      await waitFor('the backlog consumed', async () => (await queue.getWaitingCount()) === 0 && (await queue.getActiveCount()) === 0, 120_000, 250);
    } finally {
      await consumer.close();
      await client.close();
    }
    const drained = await resultsMemory();
    const after = await queue.getJobCounts('waiting', 'completed', 'failed');
    console.log(`after a consumer drained it: ${handled} handled, ${after.completed} completed kept, ${drained.keys} keys, ${(drained.bytes / 2 ** 20).toFixed(1)} MiB`);
    expect(handled).toBe(DEFAULT_DELIVERY.retention.maxWaiting);
    expect(after.completed).toBeLessThanOrEqual(DEFAULT_DELIVERY.retention.completed.count);
    expect(drained.bytes).toBeLessThan(idle.bytes);
  }, 600_000);
});
