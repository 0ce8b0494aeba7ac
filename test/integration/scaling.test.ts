/*
 * Issue #2, horizontal scaling: two real worker processes of EVERY role (10 processes) share one
 * Redis prefix, one database schema and one simulator, and 5,000 items go through them. Every
 * effect must still happen exactly once: one attempt, one stored output, one onResult call and one
 * results-queue job per item, one provider batch per built batch, cost counted once.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { costPair } from '../../src/pricing/index.ts';
import { ROLES } from '../../src/queues/names.ts';
import { countResults } from '../../src/queues/result-chunks.ts';
import countingRegistry, { HOOK_TABLE_SQL } from '../fixtures/counting-tasks.ts';
import { checkInvariants, describeState, enqueueItems, progress, violations } from '../chaos/chaos.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { REDIS_URL } from '../support/redis.ts';
import { ProcessGroup, waitForWorkers, workerEnv } from '../support/processes.ts';
import { resultMessages } from '../support/results.ts';
import { waitFor } from '../support/wait.ts';
import { expectOneProviderBatchPerBatch } from '../support/provider-checks.ts';

const ITEMS = 5_000;
const PER_ROLE = 2;

let h: TestHarness;
let group: ProcessGroup;

beforeAll(async () => {
  h = await startHarness({ scenario: 'happy', registry: countingRegistry, roles: false });
  await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
  group = new ProcessGroup(
    workerEnv({ databaseUrl: h.database.url, redisUrl: REDIS_URL, prefix: h.prefix, simulatorUrl: h.sim.url, dataDir: h.config.dataDir }, { CONCURRENCY_POLL: '8' }),
  );
});

afterAll(async () => {
  await group?.stopAll();
  await h?.close();
});

describe('scaling out: two processes of every role', () => {
  it(`processes ${ITEMS.toLocaleString('en')} items exactly once across 10 worker processes`, async () => {
    onTestFailed(async () => console.error(`${await describeState(h.ctx.db, h.ctx.queues)}\n${group.report()}`));
    const started = Date.now();
    group.startEach(ROLES, PER_ROLE);
    await waitForWorkers(h.ctx.queues, Object.fromEntries(ROLES.map((r) => [r, PER_ROLE])), 120_000);
    const readyMs = Date.now() - started;
    // Exactly two listeners per queue: ten separate processes, nothing in this one.
    for (const role of ROLES) expect(await h.ctx.queues.byRole[role].getWorkersCount()).toBe(PER_ROLE);

    const workStart = Date.now();
    // A producer sending 500 items every 400 ms (two bulk intake jobs each, one per task), so batches overlap in every stage.
    const items = sampleItems('scale', ITEMS);
    for (let i = 0; i < ITEMS; i += 500) {
      expect(await enqueueItems(h.ctx.queues, items.slice(i, i + 500), 500)).toBe(2);
      await new Promise((r) => setTimeout(r, 400));
    }
    let peakConnections = 0;
    await waitFor(
      `all ${ITEMS} items final, every batch processed, no reservation left`,
      async () => {
        const [c] = await query<{ n: number }>(h.ctx.db, 'select count(*)::int as n from pg_stat_activity where datname = current_database()');
        peakConnections = Math.max(peakConnections, c!.n);
        const p = await progress(h.ctx.db);
        // A batch is marked processed just before its reservation is released: wait for both.
        return p.items === ITEMS && p.final === ITEMS && p.openBatches === 0 && (await h.ctx.budget.used('gpt-4o-mini')) === 0 ? p : null;
      },
      400_000, // generous: 5,000 items through 10 processes on a loaded 2-core machine
      500,
    );
    const workMs = Date.now() - workStart;
    expect(group.crashed()).toEqual([]);
    await h.sim.idle();

    // Every item succeeded; one attempt row, one stored output, one onResult call each.
    const inv = await checkInvariants(h.ctx.db, h.sim);
    expect(violations(inv, ITEMS)).toEqual([]);
    expect(inv).toMatchObject({ items: ITEMS, succeeded: ITEMS, failed: 0, attempts: ITEMS, succeededWithoutOutput: 0, attemptOutcomes: { succeeded: ITEMS } });
    const [rows] = await query<{ attempts: number; distinct_attempts: number; outputs: number; hooks: number; distinct_hooks: number }>(
      h.ctx.db,
      `select (select count(*)::int from attempts) as attempts,
              (select count(distinct item_id)::int from attempts) as distinct_attempts,
              (select count(*)::int from items where output is not null) as outputs,
              (select count(*)::int from hook_calls where kind = 'result') as hooks,
              (select count(distinct item_id)::int from hook_calls where kind = 'result') as distinct_hooks`,
    );
    expect(rows).toEqual({ attempts: ITEMS, distinct_attempts: ITEMS, outputs: ITEMS, hooks: ITEMS, distinct_hooks: ITEMS });

    // One result message per item on the results queues (each message names its item).
    const tasks = ['classify-ticket', 'summarize-article'];
    const announced = await Promise.all(tasks.map((t) => countResults(h.ctx.queues.resultsFor(t))));
    expect(announced.reduce((a, c) => a + Object.values(c).reduce((x, y) => x + y, 0), 0)).toBe(ITEMS);
    const announcedIds = new Set<string>();
    for (const t of tasks) for (const message of await resultMessages(h.ctx.queues.resultsFor(t), ['waiting'])) announcedIds.add(message.itemId);
    const itemIds = await query<{ id: string }>(h.ctx.db, 'select id::text as id from items');
    expect(announcedIds.size).toBe(ITEMS);
    expect(itemIds.every((i) => announcedIds.has(i.id))).toBe(true);

    // One provider batch per built batch, each request line submitted once, nothing paid twice.
    const ours = await query<{ id: string; provider_batch_id: string; model: string; input_tokens: string; output_tokens: string; cost_usd: string }>(
      h.ctx.db,
      'select id::text as id, provider_batch_id, model, input_tokens::text, output_tokens::text, cost_usd::text from batches',
    );
    const seen = expectOneProviderBatchPerBatch(h, ours.map((b) => b.id));
    expect(seen.customIds).toMatchObject({ submitted: ITEMS, distinct: ITEMS, resubmitted: 0, succeededMoreThanOnce: 0 });

    // Cost: per item = its attempt; the batches' roll-ups = the items' sum = what the provider's usage prices at.
    expect(inv.costMismatches).toBe(0);
    expect(inv.costUsd.batches).toBe(inv.costUsd.items);
    const client = new OpenAI({ apiKey: h.config.provider.apiKey, baseURL: h.sim.url }); // same key: the same simulator client
    const usageByProviderId = new Map<string, { input_tokens: number; output_tokens: number; cached: number }>();
    for await (const b of client.batches.list({ limit: 100 })) {
      if (b.usage) usageByProviderId.set(b.id, { input_tokens: b.usage.input_tokens, output_tokens: b.usage.output_tokens, cached: b.usage.input_tokens_details?.cached_tokens ?? 0 });
    }
    let providerCost = 0;
    for (const b of ours) {
      const u = usageByProviderId.get(b.provider_batch_id);
      expect(u, `provider usage of ${b.provider_batch_id}`).toBeDefined();
      expect({ input: Number(b.input_tokens), output: Number(b.output_tokens) }).toEqual({ input: u!.input_tokens, output: u!.output_tokens });
      providerCost += costPair({ inputTokens: u!.input_tokens, cachedTokens: u!.cached, outputTokens: u!.output_tokens }, b.model, h.ctx.prices).costUsd;
    }
    expect(Number(inv.costUsd.items)).toBeGreaterThan(0);
    expect(Number(inv.costUsd.items)).toBeCloseTo(providerCost, 8);
    expect(await h.ctx.budget.used('gpt-4o-mini')).toBe(0);

    // No pipeline job failed for good in any queue.
    for (const role of ROLES) expect(await h.ctx.queues.byRole[role].getFailedCount()).toBe(0);

    console.log(
      `scaling: ${ITEMS} items, ${ROLES.length * PER_ROLE} processes ready in ${readyMs} ms, all final in ${workMs} ms ` +
        `(${Math.round(ITEMS / (workMs / 1000))} items/s), ${ours.length} batches, peak ${peakConnections} PostgreSQL connections, cost $${inv.costUsd.items}`,
    );
  }, 600_000);
});
