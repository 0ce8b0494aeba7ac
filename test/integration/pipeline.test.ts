import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueEvents } from 'bullmq';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { summarizeRun } from '../../src/store/read-models/index.ts';
import { QUEUES, resultsQueueName } from '../../src/queues/names.ts';
import { countResults } from '../../src/queues/result-chunks.ts';
import countingRegistry, { HOOK_TABLE_SQL } from '../fixtures/counting-tasks.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { expectOneProviderBatchPerBatch } from '../support/provider-checks.ts';
import { waitFor } from '../support/wait.ts';

let h: TestHarness;

beforeAll(async () => {
  h = await startHarness({ scenario: 'happy', registry: countingRegistry, roles: false });
  await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
  await h.startFleet();
});
afterAll(async () => {
  await h?.close();
});

async function enqueue(runId: string, n: number): Promise<void> {
  const items = sampleItems(runId, n);
  for (const task of ['classify-ticket', 'summarize-article']) {
    const mine = items.filter((i) => i.task === task).map(({ externalId, input }) => ({ externalId, input }));
    await h.ctx.queues.intake.add('intake', { task, items: mine });
  }
}

async function finalCount(runId: string): Promise<number> {
  const [r] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from items where external_id like $1 and status in ('succeeded','failed')`, `${runId}-%`);
  return r!.n;
}

describe('the pipeline end to end', () => {
  it('turns 300 items into validated results, each stored, hooked and announced once, at half the sync cost', async () => {
    await enqueue('e2e', 300);
    // Items are final before their batch is closed (processed, reservation released): wait for both.
    await waitFor('all 300 items final, every batch processed and its reservation released', async () => {
      const [open] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from batches where status <> 'processed'`);
      return (await finalCount('e2e')) === 300 && open!.n === 0 && (await h.ctx.budget.used('gpt-4o-mini')) === 0;
    });

    const s = await summarizeRun(h.ctx.db, 'e2e-');
    expect(s).toMatchObject({ items: 300, succeeded: 300, failed: 0, pending: 0 });
    expect(s.costUsd).toBeGreaterThan(0);
    expect(s.costUsd * 2).toBeCloseTo(s.syncCostUsd, 10);

    const [counts] = await query<{ attempts: number; hooks: number; distinct_hooks: number; with_output: number }>(
      h.ctx.db,
      `select (select count(*)::int from attempts a join items i on i.id = a.item_id where i.external_id like 'e2e-%') as attempts,
              (select count(*)::int from hook_calls c join items i on i.id = c.item_id where i.external_id like 'e2e-%') as hooks,
              (select count(distinct c.item_id)::int from hook_calls c join items i on i.id = c.item_id where i.external_id like 'e2e-%') as distinct_hooks,
              (select count(*)::int from items where external_id like 'e2e-%' and output is not null) as with_output`,
    );
    expect(counts).toEqual({ attempts: 300, hooks: 300, distinct_hooks: 300, with_output: 300 });

    const classified = await query<{ output: { category: string; priority: string } }>(h.ctx.db, `select output from items where task = 'classify-ticket' and external_id like 'e2e-%'`);
    for (const { output } of classified) {
      expect(['billing', 'bug', 'feature_request', 'account', 'other']).toContain(output.category);
      expect(['low', 'medium', 'high']).toContain(output.priority);
    }

    const batches = await query<{ status: string; n: number }>(h.ctx.db, `select status, count(*)::int as n from batches group by status`);
    expect(batches).toEqual([{ status: 'processed', n: expect.any(Number) }]);
    expect(await h.ctx.budget.used('gpt-4o-mini')).toBe(0);

    const results = await Promise.all(['classify-ticket', 'summarize-article'].map((t) => countResults(h.ctx.queues.resultsFor(t))));
    expect(results[0]!.waiting + results[1]!.waiting).toBe(300);
    expect(resultsQueueName('classify-ticket')).toBe('results.classify-ticket');

    // One provider batch per built batch: the simulator saw each of our batch ids exactly once.
    const ours = await query<{ id: string }>(h.ctx.db, 'select id from batches');
    expectOneProviderBatchPerBatch(h, ours.map((b) => b.id));
  });

  it('stores an item once per (task, external id), however often it is enqueued', async () => {
    const items = sampleItems('dup', 4).filter((i) => i.task === 'classify-ticket').map(({ externalId, input }) => ({ externalId, input }));
    const events = new QueueEvents(QUEUES.intake, { connection: h.ctx.redis.duplicate(), prefix: h.prefix });
    try {
      await events.waitUntilReady();
      const first = await h.ctx.queues.intake.add('intake', { task: 'classify-ticket', items });
      const second = await h.ctx.queues.intake.add('intake', { task: 'classify-ticket', items: [...items, ...items] });
      // The two jobs may run in either order, or at once: each of the 2 items is accepted by exactly one.
      const outcomes = [await first.waitUntilFinished(events, 60_000), await second.waitUntilFinished(events, 60_000)];
      for (const o of outcomes) expect(o).toEqual({ accepted: expect.any(Number), duplicates: 2 - o.accepted, rejected: [] });
      expect(outcomes[0].accepted + outcomes[1].accepted).toBe(2);
    } finally {
      await events.close();
    }
    await waitFor('duplicates final', async () => (await finalCount('dup')) === 2);
    const [n] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from items where external_id like 'dup-%'`);
    expect(n!.n).toBe(2);
  });

  it('rejects bad intake payloads with a reason the producer can read, counts them, and keeps working', async () => {
    const bad = [
      { payload: { nonsense: true }, reason: /invalid payload/ },
      { payload: { task: 'no-such-task', externalId: 'x', input: {} }, reason: /unknown task "no-such-task"/ },
      { payload: { task: 'classify-ticket', externalId: 'x' }, reason: /input is missing/ },
    ];
    const events = new QueueEvents(QUEUES.intake, { connection: h.ctx.redis.duplicate(), prefix: h.prefix });
    try {
      await events.waitUntilReady();
      for (const { payload, reason } of bad) {
        const job = await h.ctx.queues.intake.add('intake', payload);
        await expect(job.waitUntilFinished(events, 60_000)).rejects.toThrow(reason);
        const failed = await h.ctx.queues.intake.getJob(job.id!);
        expect(failed?.failedReason).toMatch(reason);
        expect(failed?.attemptsMade).toBe(1);
      }
      const partly = await h.ctx.queues.intake.add('intake', {
        task: 'classify-ticket',
        items: [{ externalId: 'bad-item', input: { subject: '' } }, { externalId: 'good-item', input: { subject: 'hi', body: 'there' } }],
      });
      const outcome = await partly.waitUntilFinished(events, 60_000);
      expect(outcome.accepted).toBe(1);
      expect(outcome.rejected).toEqual([{ externalId: 'bad-item', reason: expect.stringMatching(/invalid input: (subject|body)/) }]);
    } finally {
      await events.close();
    }
    const [r] = await query<{ n: number }>(h.ctx.db, 'select count(*)::int as n from rejections');
    expect(r!.n).toBe(4);
    await waitFor('the good item after the bad payloads', async () => {
      const [row] = await query<{ status: string }>(h.ctx.db, `select status from items where external_id = 'good-item'`);
      return row?.status === 'succeeded';
    });
  });
});
