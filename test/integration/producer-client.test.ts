import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient, EnqueueValidationError, ResultMessageError, ResultPayloadError, type TaskResult } from '../../src/client/index.ts';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { clearHoldNotice, publishHoldNotice } from '../../src/queues/notices.ts';
import { resultsQueueName } from '../../src/queues/names.ts';
import { countResults, resultChunkId, resultChunkName } from '../../src/queues/result-chunks.ts';
import { resultMessage, type CommittedResult } from '../../src/queues/result-jobs.ts';
import { publishResults } from '../../src/queues/result-publisher.ts';
import { defineTask, OutputValidationError, resolveDelivery, type AnyTask } from '../../src/tasks/contract.ts';
import { classifyTicket } from '../../src/tasks/index.ts';
import { TaskRegistry } from '../../src/tasks/registry.ts';
import { HOOK_TABLE_SQL, withCountingHooks } from '../fixtures/counting-tasks.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

/** Always answers with something parseOutput rejects: fails for good after two attempts. Hooks off. */
const alwaysRejected = defineTask({
  ...withCountingHooks(classifyTicket),
  name: 'always-rejected',
  input: z.object({ subject: z.string(), body: z.string() }),
  parseOutput: (): never => {
    throw new OutputValidationError('schema_mismatch', 'never good enough');
  },
  limits: { maxAttempts: 2, retryDelayMs: 20, maxOutputTokens: 150 },
  delivery: { channels: ['queue'] },
});

/** Announces ids only: the output is read from PostgreSQL by a client that has `db`. */
const idsOnly = defineTask({ ...classifyTicket, name: 'ids-only', delivery: { payload: 'ids' } });

/** Results in jobs of at most 7: one enqueue's results span many jobs. */
const smallJobs = defineTask({ ...classifyTicket, name: 'small-jobs', delivery: { maxJobResults: 7 } });

const registry = new TaskRegistry([withCountingHooks(classifyTicket), alwaysRejected, idsOnly, smallJobs]);
let h: TestHarness;

beforeAll(async () => {
  h = await startHarness({ scenario: 'happy', registry, roles: false });
  await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
  await h.startFleet();
});
afterAll(async () => {
  await h?.close();
});

function tickets(run: string, n: number) {
  return sampleItems(run, n * 3)
    .filter((i) => i.task === 'classify-ticket')
    .slice(0, n)
    .map(({ externalId, input }) => ({ externalId, input: input as { subject: string; body: string } }));
}

describe('the producer client', () => {
  it('enqueues typed items and iterates their results with output, usage and cost; a later wait() finds them too', async () => {
    const client = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [classifyTicket] });
    try {
      const items = tickets('iter', 40);
      const handle = await client.enqueue(classifyTicket, items);
      expect(handle.externalIds).toHaveLength(40);
      const seen: Array<TaskResult<{ category: string; priority: string; summary: string }>> = [];
      for await (const r of handle.results({ timeout: 120_000 })) seen.push(r);
      expect(new Set(seen.map((r) => r.externalId))).toEqual(new Set(items.map((i) => i.externalId)));
      for (const r of seen) {
        expect(r.status).toBe('succeeded');
        if (r.status !== 'succeeded') continue;
        expect(['billing', 'bug', 'feature_request', 'account', 'other']).toContain(r.output.category);
        expect(r.usage.inputTokens).toBeGreaterThan(0);
        expect(r.costUsd).toBeGreaterThan(0);
        expect(r.idempotenceKey).toBe(`result-${r.itemId}-1-0`);
      }
      // Already published: wait() finds them by scanning the queue, in the order asked.
      const again = await client.wait(items.map((i) => i.externalId).reverse(), { timeout: 60_000 });
      expect(again.map((r) => r.externalId)).toEqual(items.map((i) => i.externalId).reverse());
    } finally {
      await client.close();
    }
  });

  it('finds the results of one enqueue spread over many jobs, as they come and later', async () => {
    const client = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [smallJobs] });
    try {
      const items = tickets('multi', 30);
      const handle = await client.enqueue(smallJobs, items);
      const seen = new Set<string>();
      for await (const r of handle.results({ timeout: 120_000 })) seen.add(r.externalId);
      expect(seen).toEqual(new Set(items.map((i) => i.externalId)));
      const jobs = await h.ctx.queues.resultsFor('small-jobs').getJobs(['waiting'], 0, -1);
      expect(jobs.length).toBeGreaterThanOrEqual(5);
      for (const job of jobs) expect(job.data.results.length).toBeLessThanOrEqual(7);
      // Published before the call: wait() scans the jobs' names, then reads the ones that may hold the ids.
      const some = [items[29]!.externalId, items[0]!.externalId, items[13]!.externalId];
      const again = await client.wait(some, { timeout: 60_000 });
      expect(again.map((r) => r.externalId)).toEqual(some);
      expect((await client.status(smallJobs)).results.waiting).toBe(30);
    } finally {
      await client.close();
    }
  });

  it('delivers to onResult at least once: a handler that throws gets the same result again under the same key', async () => {
    const client = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [classifyTicket] });
    const deliveries: Array<{ key: string; attempt: number; externalId: string }> = [];
    let failedOnce = false;
    const consumer = await client.onResult('classify-ticket', (result, info) => {
      deliveries.push({ key: info.idempotenceKey, attempt: info.deliveryAttempt, externalId: result.externalId });
      if (result.externalId.startsWith('cons-') && !failedOnce) {
        failedOnce = true;
        throw new Error('consumer hiccup');
      }
    }, { concurrency: 4 });
    try {
      const items = tickets('cons', 20);
      await client.enqueue('classify-ticket', items);
      const mine = () => deliveries.filter((d) => d.externalId.startsWith('cons-'));
      await waitFor('every result handled', () => new Set(mine().filter((d) => d.attempt >= 1).map((d) => d.externalId)).size === 20 && mine().length === 21, 120_000);
      const retried = mine().filter((d) => d.attempt === 2);
      expect(retried).toHaveLength(1);
      expect(mine().filter((d) => d.key === retried[0]!.key)).toHaveLength(2);
      const counts = await h.ctx.queues.resultsFor('classify-ticket').getJobCounts('completed', 'failed');
      expect(counts.failed).toBe(0);
    } finally {
      await consumer.close();
      await client.close();
    }
  });

  it('hands out a failure with its reason and every attempt, and runs no hook when the hook channel is off', async () => {
    const client = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [alwaysRejected] });
    try {
      const items = tickets('rej', 3);
      const handle = await client.enqueue(alwaysRejected, items);
      const results = await handle.wait({ timeout: 120_000 });
      for (const r of results) {
        expect(r.status).toBe('failed');
        if (r.status !== 'failed') continue;
        expect(r.error.code).toBe('schema_mismatch');
        expect(r.history.map((a) => a.outcome)).toEqual(['retry', 'failed']);
        expect(r.attempts).toBe(2);
      }
      const [hooks] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from hook_calls c join items i on i.id = c.item_id where i.task = 'always-rejected'`);
      expect(hooks!.n).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('completes ids-only results from PostgreSQL when given db, and says why it cannot without', async () => {
    const withDb = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [idsOnly], db: h.ctx.db });
    const withoutDb = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [idsOnly] });
    try {
      const items = tickets('ids', 3);
      const handle = await withDb.enqueue(idsOnly, items);
      const results = await handle.wait({ timeout: 120_000 });
      expect(results.every((r) => r.status === 'succeeded' && typeof r.output.summary === 'string')).toBe(true);
      const [job] = await h.ctx.queues.resultsFor('ids-only').getWaiting(0, 0);
      expect(job!.data.kind).toBe('results');
      for (const message of job!.data.results) expect(message).not.toHaveProperty('output');
      await expect(withoutDb.wait(items.map((i) => i.externalId), { timeout: 60_000 })).rejects.toBeInstanceOf(ResultPayloadError);
    } finally {
      await withDb.close();
      await withoutDb.close();
    }
  });

  it('rejects items that do not match the input schema, naming the item and field, and enqueues nothing', async () => {
    const client = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [classifyTicket] });
    try {
      const before = await h.ctx.queues.intake.count();
      const bad = [{ externalId: 'bad-1', input: { subject: 'x', body: 42 as unknown as string } }];
      const err = await client.enqueue(classifyTicket, bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnqueueValidationError);
      expect((err as Error).message).toMatch(/bad-1.*body/);
      expect(await h.ctx.queues.intake.count()).toBe(before);
    } finally {
      await client.close();
    }
  });

  it('shows a held task with its reason and expected wait while the fleet holds it', async () => {
    const client = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [classifyTicket] });
    try {
      expect((await client.status(classifyTicket)).held).toBeNull();
      // An hour's wait: still ahead when status() reads it, however slowly this test runs.
      await publishHoldNotice(h.ctx.redis, h.prefix, { task: 'classify-ticket', reason: 'token budget for gpt-4o-mini: needs 900, 100 of 1000 reserved', retryInMs: 3_600_000 });
      const status = await client.status('classify-ticket');
      expect(status.held).toMatchObject({ kind: 'budget', task: 'classify-ticket' });
      expect(status.held!.expectedWaitMs).toBeGreaterThan(0);
      expect(status.held!.expectedWaitMs).toBeLessThanOrEqual(3_600_000);
      expect(status.results.waiting + status.results.completed).toBeGreaterThan(0);
      expect(status.jobs.waiting + status.jobs.completed).toBeGreaterThan(0);
      expect(status.jobs.waiting).toBeLessThanOrEqual(status.results.waiting); // results, counted from the jobs that hold them
      expect(status.results).toEqual(await countResults(h.ctx.queues.resultsFor('classify-ticket')));
      await clearHoldNotice(h.ctx.redis, h.prefix, 'classify-ticket');
      expect((await client.status('classify-ticket')).held).toBeNull();
      expect(resultsQueueName('classify-ticket')).toBe('results.classify-ticket');
    } finally {
      await client.close();
    }
  });
});

describe('results jobs of many results', () => {
  const direct = (name: string, delivery: AnyTask['delivery'] = {}) => defineTask({ ...classifyTicket, name, delivery });
  const committed = (run: string, i: number): CommittedResult => ({
    id: randomUUID(), external_id: `${run}-${i}`, status: 'succeeded', output: { category: 'bug', priority: 'low', summary: `ticket ${i}` },
    error_code: null, error_message: null, attempts: 1, requeues: 0, input_tokens: 10, cached_tokens: 0, output_tokens: 5, cost_usd: 0.00001,
    finished_at: new Date(), history: null,
  });
  const queueFor = (task: AnyTask) => new Queue(resultsQueueName(task.name), { connection: h.ctx.redis, prefix: h.prefix });

  it('publishes a committed chunk as jobs whose ids come from their results, so publishing it again adds nothing', async () => {
    const task = direct('chunk-ids', { maxJobResults: 5 });
    const queue = queueFor(task);
    try {
      const rows = Array.from({ length: 12 }, (_, i) => committed('ids', i));
      expect(await publishResults(queue, h.ctx.redis, task, rows)).toBe(12);
      const jobs = await queue.getJobs(['waiting'], 0, -1);
      expect(jobs.map((j) => j.data.results.length).sort()).toEqual([2, 5, 5]);
      for (const job of jobs) {
        expect(job.id).toBe(resultChunkId(job.data.results.map((m: { idempotenceKey: string }) => m.idempotenceKey)));
        expect(job.name).toBe(resultChunkName(job.data.results.map((m: { externalId: string }) => m.externalId)));
      }
      await publishResults(queue, h.ctx.redis, task, [...rows].reverse());
      expect(await queue.getWaitingCount()).toBe(3);
      expect((await countResults(queue)).waiting).toBe(12);
    } finally {
      await queue.close();
    }
  });

  it('resumes a job at the result whose handler threw, handing that one out again as delivery 2 and the ones before it not again', async () => {
    const task = direct('chunk-retry');
    const queue = queueFor(task);
    const client = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [task] });
    const calls: Array<[string, number]> = [];
    try {
      await publishResults(queue, h.ctx.redis, task, Array.from({ length: 10 }, (_, i) => committed('retry', i)));
      const [job] = await queue.getJobs(['waiting'], 0, -1);
      const order = job!.data.results.map((m: { externalId: string }) => m.externalId) as string[];
      let thrown = false;
      const consumer = await client.onResult(task, (result, info) => {
        calls.push([result.externalId, info.deliveryAttempt]);
        if (result.externalId === order[4] && !thrown) {
          thrown = true;
          throw new Error('consumer hiccup');
        }
      });
      try {
        await waitFor('the job completed after one retry', async () => (await queue.getCompletedCount()) === 1, 30_000);
      } finally {
        await consumer.close();
      }
      expect(calls).toEqual([
        ...order.slice(0, 5).map((id) => [id, 1]),
        [order[4], 2],
        ...order.slice(5).map((id) => [id, 1]),
      ]);
      expect(await queue.getFailedCount()).toBe(0);
    } finally {
      await client.close();
      await queue.close();
    }
  });

  it('skips a message that is not a result message alone, and reads a per-result job of a fleet from before chunks', async () => {
    const task = direct('chunk-odd');
    const delivery = resolveDelivery(task);
    const queue = queueFor(task);
    const client = createClient({ redis: h.ctx.redis, prefix: h.prefix, tasks: [task] });
    try {
      const [a, b, old] = ['a', 'b', 'old'].map((id) => resultMessage(task.name, { ...committed('odd', 0), external_id: `odd-${id}` }, delivery));
      await queue.add(resultChunkName(['odd-a', 'odd-b']), { v: 1, kind: 'results', results: [a, { v: 1, externalId: 'odd-bad' }, b] }, { jobId: resultChunkId([a!.idempotenceKey, 'bad', b!.idempotenceKey]) });
      await queue.add('odd-old', old, { jobId: old!.idempotenceKey }); // how fleets before chunks published a result
      const found = await client.wait(['odd-old', 'odd-b'], { timeout: 60_000 });
      expect(found.map((r) => r.externalId)).toEqual(['odd-old', 'odd-b']);

      const handled: string[] = [];
      const invalid: ResultMessageError[] = [];
      const consumer = await client.onResult(task, (r) => void handled.push(r.externalId), { onInvalid: (e) => invalid.push(e) });
      try {
        await waitFor('both jobs completed', async () => (await queue.getCompletedCount()) === 2, 30_000);
        expect(consumer.skipped).toBe(1);
      } finally {
        await consumer.close();
      }
      expect(handled.sort()).toEqual(['odd-a', 'odd-b', 'odd-old']);
      expect(invalid.map((e) => e.index)).toEqual([1]);
      expect(await queue.getFailedCount()).toBe(0);
    } finally {
      await client.close();
      await queue.close();
    }
  });
});
