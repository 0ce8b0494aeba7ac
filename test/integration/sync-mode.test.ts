import { afterEach, describe, expect, it } from 'vitest';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { costReport } from '../../src/store/read-models/index.ts';
import { finishBuilding } from '../../src/pipeline/build.ts';
import { SyncRunner } from '../../src/pipeline/sync.ts';
import { claimItems } from '../../src/pipeline/claim.ts';
import { intake } from '../../src/pipeline/intake.ts';
import { costPair } from '../../src/pricing/index.ts';
import { countResults } from '../../src/queues/result-chunks.ts';
import type { PipelineContext } from '../../src/pipeline/context.ts';
import { createContext, type OwnedContext } from '../../src/runtime/context.ts';
import { classifyTicket, OutputValidationError, type AnyTask } from '../../src/tasks/index.ts';
import { TaskRegistry } from '../../src/tasks/registry.ts';
import countingRegistry, { HOOK_TABLE_SQL, withCountingHooks } from '../fixtures/counting-tasks.ts';
import { startHarness, type HarnessOptions, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

let h: TestHarness | undefined;
let extra: OwnedContext | undefined;
afterEach(async () => {
  await extra?.close();
  extra = undefined;
  await h?.close();
  h = undefined;
});

async function start(options: HarnessOptions, before?: (h: TestHarness) => void): Promise<TestHarness> {
  h = await startHarness({ ...options, roles: false });
  await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
  before?.(h);
  if (options.roles !== false) await h.startFleet(options.roles || undefined);
  return h;
}

/** The classify-ticket example as a sync task, with hooks counted in `hook_calls`. */
const syncTicket = (name: string, overrides: Partial<AnyTask> = {}): AnyTask => ({ ...withCountingHooks(classifyTicket), name, mode: 'sync', ...overrides });

function tickets(prefix: string, n: number): Array<{ externalId: string; input: unknown }> {
  return sampleItems(prefix, n * 2).filter((i) => i.task === 'classify-ticket').map(({ externalId, input }) => ({ externalId, input }));
}

async function allFinal(harness: TestHarness, n: number): Promise<void> {
  await waitFor(`${n} final items`, async () => {
    const [r] = await query<{ n: number }>(harness.ctx.db, `select count(*)::int as n from items where status in ('succeeded', 'failed')`);
    return r!.n === n;
  }, 90_000);
}

/**
 * Records when each sync request is sent and how many are in flight at once. With `gate`, every
 * request after the first waits for it before being sent; `sentFirst` is called at the first send.
 */
function recordRequests(
  ctx: PipelineContext,
  who: string,
  log: Array<{ at: number; who: string }>,
  inFlight = { now: 0, max: 0 },
  gate?: () => Promise<void>,
  sentFirst?: () => void,
) {
  const send = ctx.provider.request;
  let calls = 0;
  ctx.provider.request = async (endpoint, body, signal) => {
    if (calls++ > 0 && gate) await gate();
    log.push({ at: Date.now(), who });
    sentFirst?.();
    inFlight.max = Math.max(inFlight.max, ++inFlight.now);
    try {
      return await send(endpoint, body, signal);
    } finally {
      inFlight.now--;
    }
  };
  return inFlight;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

interface ItemCost { id: string; task: string; status: string; attempts: number; rows: number; input_tokens: number; cached_tokens: number; output_tokens: number; cost: number; sync: number }

async function itemCosts(harness: TestHarness): Promise<ItemCost[]> {
  return query<ItemCost>(
    harness.ctx.db,
    `select i.id, i.task, i.status, i.attempts, (select count(*)::int from attempts a where a.item_id = i.id) as rows,
            i.input_tokens, i.cached_tokens, i.output_tokens, i.cost_usd::float8 as cost, i.sync_cost_usd::float8 as sync
       from items i order by i.external_id`,
  );
}

describe('sync mode (F13)', () => {
  it('a sync task: every item succeeds with one attempt, at the synchronous price, hooked once, without any batch file or provider batch', async () => {
    const registry = new TaskRegistry([syncTicket('classify-sync')]);
    const inFlight = { now: 0, max: 0 };
    const harness = await start({ registry, env: { SYNC_CONCURRENCY: '3', SYNC_RPM: '60000' } }, (x) => recordRequests(x.ctx, 'a', [], inFlight));
    await harness.ctx.queues.intake.add('intake', { task: 'classify-sync', items: tickets('s', 20) });
    await allFinal(harness, 20);

    const rows = await itemCosts(harness);
    expect(rows).toHaveLength(20);
    for (const r of rows) {
      expect(r).toMatchObject({ status: 'succeeded', attempts: 1, rows: 1 });
      expect(r.cost).toBeGreaterThan(0);
      expect(r.cost).toBe(r.sync); // paid at the synchronous price: no batch discount
      const usage = { inputTokens: r.input_tokens, cachedTokens: r.cached_tokens, outputTokens: r.output_tokens };
      expect(r.sync).toBeCloseTo(costPair(usage, 'gpt-4o-mini', harness.ctx.prices).syncCostUsd, 10);
    }
    const [hooks] = await query<{ result: number; distinct_items: number; failure: number }>(
      harness.ctx.db,
      `select count(*) filter (where kind = 'result')::int as result, count(distinct item_id)::int as distinct_items,
              count(*) filter (where kind = 'failure')::int as failure from hook_calls`,
    );
    expect(hooks).toEqual({ result: 20, distinct_items: 20, failure: 0 });
    const announced = await countResults(harness.ctx.queues.resultsFor('classify-sync'));
    expect(announced.waiting).toBe(20);

    // Chunks are batch rows marked as sync: no file, no provider batch, processed, rolled up.
    const batches = await query<{ status: string; mode: string; endpoint: string; file_path: string | null; provider_batch_id: string | null; n: number; done: number; cost: number; sync: number }>(
      harness.ctx.db,
      `select status, mode, endpoint, file_path, provider_batch_id, request_count as n, completed_count as done,
              cost_usd::float8 as cost, sync_cost_usd::float8 as sync from batches`,
    );
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) {
      expect(b).toMatchObject({ status: 'processed', mode: 'sync', endpoint: '/v1/chat/completions', file_path: null, provider_batch_id: null });
      expect(b.cost).toBe(b.sync);
    }
    expect(batches.reduce((n, b) => n + b.done, 0)).toBe(20);

    const clients = Object.values(harness.sim.stats().clients);
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatchObject({ batchesCreated: 0, filesCreated: 0 });
    expect(clients[0]!.requests).toBe(20);

    expect(inFlight.max).toBeGreaterThan(0);
    expect(inFlight.max).toBeLessThanOrEqual(3); // SYNC_CONCURRENCY per process

    const report = await costReport(harness.ctx.db, { by: 'task', priceTableVersion: harness.ctx.prices.version });
    expect(report.rows).toHaveLength(1);
    expect(report.rows[0]).toMatchObject({ key: 'classify-sync', attempts: 20, savingsUsd: 0, savingsPct: 0 });
    expect(report.rows[0]!.costUsd).toBeGreaterThan(0);
  });

  it('the same task definition runs sync when SYNC_TASKS names it (one setting); other tasks stay in batch mode', async () => {
    const harness = await start({ registry: countingRegistry, env: { SYNC_TASKS: 'classify-ticket' } });
    const items = sampleItems('w', 24);
    for (const task of ['classify-ticket', 'summarize-article']) {
      await harness.ctx.queues.intake.add('intake', { task, items: items.filter((i) => i.task === task).map(({ externalId, input }) => ({ externalId, input })) });
    }
    await allFinal(harness, 24);

    const rows = await itemCosts(harness);
    expect(rows.every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true);
    for (const r of rows.filter((x) => x.task === 'classify-ticket')) expect(r.cost).toBe(r.sync);
    for (const r of rows.filter((x) => x.task === 'summarize-article')) expect(r.cost * 2).toBeCloseTo(r.sync, 10);

    const byTask = await query<{ task: string; mode: string; n: number }>(
      harness.ctx.db,
      `select task, mode, count(*)::int as n from batches group by 1, 2 order by 1, 2`,
    );
    expect(byTask.map(({ task, mode }) => ({ task, mode }))).toEqual([
      { task: 'classify-ticket', mode: 'sync' },
      { task: 'summarize-article', mode: 'batch' },
    ]);
    const batchRows = byTask.find((r) => r.mode === 'batch')!.n;
    const seen = Object.values(harness.sim.stats().clients)[0]!;
    expect(seen.batchesCreated).toBe(batchRows); // only the batch-mode task created provider batches
    expect(seen.customIds.submitted).toBe(12); // and only its 12 items went into batch files
  });

  it('a rejected answer is retried under the task\'s own policy, in a later chunk, after the retry delay', async () => {
    const rejected = new Set<string>();
    const flaky = syncTicket('flaky-sync', {
      limits: { maxAttempts: 3, retryDelayMs: 400 },
      parseOutput: (output, input: { subject: string; body: string }) => {
        const key = `${input.subject}|${input.body}`;
        if (!rejected.has(key)) {
          rejected.add(key);
          throw new OutputValidationError('not_json', 'first answer rejected on purpose');
        }
        return classifyTicket.parseOutput(output, input);
      },
    });
    const harness = await start({ registry: new TaskRegistry([flaky]), env: { SYNC_RPM: '60000' } });
    await harness.ctx.queues.intake.add('intake', { task: 'flaky-sync', items: tickets('f', 8) });
    await allFinal(harness, 8);

    const history = await query<{ item_id: string; outcomes: string[]; codes: (string | null)[]; batches: string[]; gap_ms: number; status: string; attempts: number }>(
      harness.ctx.db,
      `select a.item_id, array_agg(a.outcome order by a.id) as outcomes, array_agg(a.error_code order by a.id) as codes,
              array_agg(a.batch_id::text order by a.id) as batches,
              (extract(epoch from max(a.created_at) - min(a.created_at)) * 1000)::float8 as gap_ms, i.status, i.attempts
         from attempts a join items i on i.id = a.item_id group by a.item_id, i.status, i.attempts`,
    );
    expect(history).toHaveLength(8);
    for (const r of history) {
      expect(r).toMatchObject({ outcomes: ['retry', 'succeeded'], codes: ['not_json', null], status: 'succeeded', attempts: 2 });
      expect(new Set(r.batches).size).toBe(2);
      expect(r.gap_ms).toBeGreaterThanOrEqual(400 - 50); // retryDelayMs × 2^0, minus clock rounding
    }
    const [hooks] = await query<{ n: number; failure: number }>(
      harness.ctx.db,
      `select count(*) filter (where kind = 'result')::int as n, count(*) filter (where kind = 'failure')::int as failure from hook_calls`,
    );
    expect(hooks).toEqual({ n: 8, failure: 0 });
    const [retryCost] = await query<{ cost: number; sync: number }>(harness.ctx.db, `select sum(cost_usd)::float8 as cost, sum(sync_cost_usd)::float8 as sync from attempts where outcome = 'retry'`);
    expect(retryCost!.cost).toBeGreaterThan(0); // a rejected answer was still paid for, at the sync price
    expect(retryCost!.cost).toBe(retryCost!.sync);
  });

  it('the rate limit holds across two processes sharing one Redis prefix', async () => {
    const RPM = 300; // one slot every 200 ms, fleet-wide
    const INTERVAL_MS = 60_000 / RPM;
    const registry = new TaskRegistry([syncTicket('sync-a'), syncTicket('sync-b')]);
    const harness = await start({ registry, roles: false, env: { SYNC_RPM: String(RPM), SYNC_CONCURRENCY: '8' } });
    extra = createContext(harness.config, registry, { db: harness.database.db, log: harness.ctx.log });
    const sent: Array<{ at: number; who: string }> = [];
    // Each process sends its second request only after the other has sent its first: both are then
    // sending during the same period whatever the scheduling, so a per-process limiter could not pass.
    const first = { one: deferred(), two: deferred() };
    recordRequests(harness.ctx, 'one', sent, undefined, () => first.two.promise, first.one.resolve);
    recordRequests(extra, 'two', sent, undefined, () => first.one.promise, first.two.resolve);
    await intake(harness.ctx, { task: 'sync-a', items: tickets('a', 12) });
    await intake(extra, { task: 'sync-b', items: tickets('b', 12) });

    const t0 = Date.now(); // no slot of this test's fresh limiter key can be earlier
    await Promise.all([new SyncRunner(harness.ctx).run('sync-a'), new SyncRunner(extra).run('sync-b')]);

    const [done] = await query<{ n: number }>(harness.ctx.db, `select count(*)::int as n from items where status = 'succeeded'`);
    expect(done!.n).toBe(24);
    expect(sent).toHaveLength(24);
    const span = (who: string) => { const t = sent.filter((s) => s.who === who).map((s) => s.at); return [Math.min(...t), Math.max(...t)] as const; };
    const [a0, a1] = span('one');
    const [b0, b1] = span('two');
    expect(Math.max(a0, b0)).toBeLessThanOrEqual(Math.min(a1, b1));
    // The limiter hands out one slot per INTERVAL_MS (its Redis-clock schedule) and nobody sends
    // before their slot, so by the k-th send (0-based) at least k intervals have passed since t0,
    // however the two processes interleave. Only a send that came too early can fail this; a slow
    // machine makes sends later, never earlier. The 5 ms cover millisecond rounding of the timers.
    const times = sent.map((s) => s.at).sort((a, b) => a - b);
    const early = times.map((t, k) => ({ k, at: t - t0, notBefore: k * INTERVAL_MS - 5 })).filter((x) => x.at < x.notBefore);
    expect(early, 'sends earlier than the shared schedule allows').toEqual([]);
  });

  it('a chunk left by a dead worker is adopted once its lease lapses, and each item is still recorded once', async () => {
    const registry = new TaskRegistry([syncTicket('sync-orphan')]);
    const harness = await start({ registry, roles: false, env: { SYNC_RPM: '60000' } });
    await intake(harness.ctx, { task: 'sync-orphan', items: tickets('o', 5) });
    // A worker claimed a chunk and died: its lease (0 ms) has already lapsed.
    const chunk = '00000000-0000-4000-8000-000000000001';
    const claimed = await claimItems(harness.ctx, registry.get('sync-orphan'), chunk, { requests: 100, tokens: 1e9, bytes: 1e9 }, 'sync', { owner: 'dead-worker', until: new Date(Date.now() - 1) });
    expect(claimed).toHaveLength(5);
    // The reconciler's path writes no file for a sync chunk; it asks for a sync run of the task instead.
    expect(await finishBuilding(harness.ctx, chunk)).toBe(false);
    const runner = new SyncRunner(harness.ctx);
    const outcome = await runner.run('sync-orphan');
    expect(outcome.batches).toContain(chunk);
    const rows = await itemCosts(harness);
    expect(rows.every((r) => r.status === 'succeeded' && r.attempts === 1 && r.rows === 1)).toBe(true);
    const [b] = await query<{ status: string; done: number; owner: string | null }>(harness.ctx.db, `select status, completed_count as done, processing_owner as owner from batches where id = $1::uuid`, chunk);
    expect(b).toEqual({ status: 'processed', done: 5, owner: null });
    expect(await runner.run('sync-orphan')).toEqual({ batches: [], stoppedBy: 'empty' });
  });
});
