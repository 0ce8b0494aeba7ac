/*
 * Redis memory of results jobs. 100,000 results go through the fleet's publisher with the default
 * delivery settings (the code `recordResults` runs after each commit, chunks of 1,000), first with
 * nobody consuming, then with a consumer draining the queue. Then the worst layout for the bound,
 * one result per job, on a task with small settings. Every key of the results queue (job hashes,
 * lists, sets, the event stream) stays under `resultMemoryBound` of the task's settings.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.ts';
import { resultsQueueName } from '../../src/queues/names.ts';
import { countResults } from '../../src/queues/result-chunks.ts';
import { resultMemoryBound, type CommittedResult } from '../../src/queues/result-jobs.ts';
import { droppedResultsKey, publishResults } from '../../src/queues/result-publisher.ts';
import { DEFAULT_DELIVERY, defineTask, resolveDelivery, type AnyTask } from '../../src/tasks/contract.ts';
import { classifyTicket } from '../../src/tasks/index.ts';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis.ts';
import { resultMessages } from '../support/results.ts';
import { waitFor } from '../support/wait.ts';

const RESULTS = 100_000;
const CHUNK = 1_000;
const prefix = testPrefix('retention');
const task = classifyTicket;
/** One result per job, few kept: the layout where per-job overhead weighs most. */
const tiny = defineTask({
  ...classifyTicket,
  name: 'ret-tiny',
  delivery: { maxPayloadBytes: 1_024, maxJobResults: 1, retention: { maxWaiting: 1_000, completed: { count: 50 }, failed: { count: 50 } } },
});
let redis: Redis;
const queues: Queue[] = [];

/** Bytes held by every Redis key of a task's results queue (job hashes, lists, sets, event stream). */
async function resultsMemory(of: AnyTask): Promise<{ bytes: number; keys: number }> {
  let cursor = '0';
  let bytes = 0;
  let keys = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:${resultsQueueName(of.name)}:*`, 'COUNT', 2_000);
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

function queueOf(of: AnyTask): Queue {
  const queue = new Queue(resultsQueueName(of.name), { connection: redis, prefix });
  queues.push(queue);
  return queue;
}

/** Consumes the task's queue until nothing waits; returns the results handled. */
async function drain(of: AnyTask, queue: Queue): Promise<number> {
  const client = createClient({ redis, prefix, tasks: [of] });
  let handled = 0;
  const consumer = await client.onResult(of.name, () => void handled++, { concurrency: 5 });
  try {
    await waitFor('the backlog consumed', async () => (await queue.getWaitingCount()) === 0 && (await queue.getActiveCount()) === 0, 120_000, 250);
  } finally {
    await consumer.close();
    await client.close();
  }
  return handled;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  await deletePrefix(prefix);
  redis?.disconnect();
});

describe('results jobs in Redis', () => {
  it('stay under the bound of the default settings after 100,000 results, consumed or not', async () => {
    const queue = queueOf(task);
    const bound = resultMemoryBound(DEFAULT_DELIVERY);
    const { maxWaiting, completed } = DEFAULT_DELIVERY.retention;
    for (let i = 0; i < RESULTS; i += CHUNK) {
      await publishResults(queue, redis, task, Array.from({ length: CHUNK }, (_, j) => committed(i + j)));
    }
    const idle = await resultsMemory(task);
    const jobs = await queue.getJobCounts('waiting', 'completed', 'failed');
    const results = await countResults(queue);
    const dropped = Number(await redis.get(droppedResultsKey(prefix, task.name)));
    console.log(`nobody consuming: ${results.waiting} results in ${jobs.waiting} jobs waiting, ${dropped} dropped, ${idle.keys} keys, ${mib(idle.bytes)} of ${mib(bound)} bound`);
    expect(results.waiting).toBe(maxWaiting);
    expect(jobs.waiting).toBe(maxWaiting / CHUNK);
    expect(dropped).toBe(RESULTS - maxWaiting);
    expect(idle.bytes).toBeLessThan(bound);
    // The newest results are the ones kept.
    const kept = (await resultMessages(queue, ['waiting'])).map((m) => Number(m.externalId.slice('ret-'.length)));
    expect(kept).toHaveLength(maxWaiting);
    expect(Math.min(...kept)).toBe(RESULTS - maxWaiting);
    expect(Math.max(...kept)).toBe(RESULTS - 1);

    const handled = await drain(task, queue);
    const drained = await resultsMemory(task);
    const after = await queue.getJobCounts('waiting', 'completed', 'failed');
    console.log(`after a consumer drained it: ${handled} handled, ${after.completed} completed jobs kept, ${drained.keys} keys, ${mib(drained.bytes)}`);
    expect(handled).toBe(maxWaiting);
    expect(after.completed).toBeLessThanOrEqual(completed.count);
    expect(drained.bytes).toBeLessThan(bound);
  }, 600_000);

  it('stay under the bound with one result per job, the layout its per-job overhead is for', async () => {
    const queue = queueOf(tiny);
    const delivery = resolveDelivery(tiny);
    const bound = resultMemoryBound(delivery);
    const total = 2_500;
    for (let i = 0; i < total; i++) await publishResults(queue, redis, tiny, [committed(i)]);
    const idle = await resultsMemory(tiny);
    const results = await countResults(queue);
    const dropped = Number(await redis.get(droppedResultsKey(prefix, tiny.name)));
    console.log(`one per job, nobody consuming: ${results.waiting} waiting, ${dropped} dropped, ${idle.keys} keys, ${mib(idle.bytes)} of ${mib(bound)} bound`);
    expect(results.waiting).toBe(delivery.retention.maxWaiting);
    expect(await queue.getWaitingCount()).toBe(delivery.retention.maxWaiting);
    expect(dropped).toBe(total - delivery.retention.maxWaiting);
    expect(idle.bytes).toBeLessThan(bound);

    expect(await drain(tiny, queue)).toBe(delivery.retention.maxWaiting);
    const drained = await resultsMemory(tiny);
    expect(await queue.getCompletedCount()).toBeLessThanOrEqual(delivery.retention.completed.count);
    expect(drained.bytes).toBeLessThan(bound);
  }, 300_000);
});
