import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { query, execute } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { processBatch } from '../../src/pipeline/process/index.ts';
import { countResults } from '../../src/queues/result-chunks.ts';
import { classifyTicket, defineTask, parseJsonContent } from '../../src/tasks/index.ts';
import { TaskRegistry } from '../../src/tasks/registry.ts';
import countingRegistry, { HOOK_TABLE_SQL, withCountingHooks } from '../fixtures/counting-tasks.ts';
import { startHarness, type HarnessOptions, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

let h: TestHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(options: HarnessOptions): Promise<TestHarness> {
  h = await startHarness({ registry: countingRegistry, ...options, roles: false });
  await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
  if (options.roles !== false) await h.startFleet(options.roles || undefined);
  return h;
}

async function enqueueTickets(harness: TestHarness, n: number, task = 'classify-ticket'): Promise<void> {
  const items = sampleItems('t', n * 2).filter((i) => i.task === 'classify-ticket').map(({ externalId, input }) => ({ externalId, input }));
  await harness.ctx.queues.intake.add('intake', { task, items });
}

async function allFinal(harness: TestHarness, n: number): Promise<void> {
  await waitFor(`${n} final items`, async () => {
    const [r] = await query<{ n: number }>(harness.ctx.db, `select count(*)::int as n from items where status in ('succeeded', 'failed')`);
    return r!.n === n;
  }, 90_000);
}

interface ItemFacts { id: string; status: string; attempts: number; requeues: number; error_code: string | null; error_message: string | null; max_output_tokens: number | null; ran: number; not_executed: number; codes: string[] }

/** Every item with the counts of its attempt history, to check them against the item row. */
async function facts(harness: TestHarness): Promise<ItemFacts[]> {
  return query<ItemFacts>(
    harness.ctx.db,
    `select i.id, i.status, i.attempts, i.requeues, i.error_code, i.error_message, i.max_output_tokens,
            count(a.*) filter (where a.outcome <> 'not_executed')::int as ran,
            count(a.*) filter (where a.outcome = 'not_executed')::int as not_executed,
            coalesce(array_agg(a.error_code order by a.id) filter (where a.error_code is not null), '{}') as codes
       from items i left join attempts a on a.item_id = i.id group by i.id`,
  );
}

/** The bookkeeping that must hold after any ending: history and counters agree, nothing is over its bounds. */
function expectConsistent(rows: ItemFacts[], maxAttempts: number, maxRequeues: number): void {
  for (const r of rows) {
    expect(r.attempts).toBe(r.ran);
    expect(r.requeues).toBe(r.not_executed);
    expect(r.attempts).toBeLessThanOrEqual(maxAttempts);
    expect(r.requeues).toBeLessThanOrEqual(maxRequeues + 1);
    if (r.status === 'failed') {
      expect(r.error_code).toBeTruthy();
      expect(r.error_message).toBeTruthy();
    }
  }
}

const ONLY = (fault: string, rate = 1) => ({ name: `only-${fault}`, lineFaults: { [fault]: rate } });

describe('per-line faults: each item is judged by its own line', () => {
  const cases = [
    { fault: 'refusal', code: 'refusal', attempts: 8 },
    { fault: 'contentFilter', code: 'content_filter', attempts: 8 },
    { fault: 'invalidJson', code: 'not_json', attempts: 8 },
    { fault: 'schemaViolation', code: 'schema_mismatch', attempts: 8 },
    { fault: 'http500', code: 'server_error', attempts: 8 },
    { fault: 'truncated', code: 'truncated', attempts: 8 },
    { fault: 'http400', code: /^(context_length_exceeded|invalid_prompt)$/, attempts: 1 },
  ] as const;
  for (const c of cases) {
    it(`${c.fault} on every line: items fail with "${String(c.code)}" after ${c.attempts} attempt(s), never more`, async () => {
      const harness = await start({ scenario: ONLY(c.fault) });
      await enqueueTickets(harness, 5);
      await allFinal(harness, 5);
      const rows = await facts(harness);
      expectConsistent(rows, 8, 10);
      for (const r of rows) {
        expect(r.status).toBe('failed');
        expect(r.error_code).toMatch(typeof c.code === 'string' ? new RegExp(`^${c.code}$`) : c.code);
        expect(r.attempts).toBe(c.attempts);
        expect(r.codes).toHaveLength(c.attempts);
        if (c.fault === 'truncated') expect(r.max_output_tokens).toBe(Math.min(16_384, 150 * 2 ** 7));
      }
      const [hooks] = await query<{ failure: number; result: number }>(
        harness.ctx.db,
        `select count(*) filter (where kind = 'failure')::int as failure, count(*) filter (where kind = 'result')::int as result from hook_calls`,
      );
      expect(hooks).toEqual({ failure: 5, result: 0 });
    });
  }

  it('a completed batch with a mix of outcomes: every retryable item ends succeeded, permanent ones fail at once', async () => {
    const harness = await start({ scenario: { name: 'mix', lineFaults: { http500: 0.05, invalidJson: 0.03, truncated: 0.04, refusal: 0.03, http400: 0.03 } } });
    await enqueueTickets(harness, 120);
    await allFinal(harness, 120);
    const rows = await facts(harness);
    expectConsistent(rows, 8, 10);
    const failed = rows.filter((r) => r.status === 'failed');
    for (const r of failed) expect(r.error_code, JSON.stringify(r)).toMatch(/^(context_length_exceeded|invalid_prompt)$/);
    expect(rows.filter((r) => r.status === 'succeeded').length).toBe(120 - failed.length);
    expect(rows.some((r) => r.status === 'succeeded' && r.ran > 1)).toBe(true);
    const truncatedThenOk = rows.filter((r) => r.status === 'succeeded' && r.codes.includes('truncated'));
    for (const r of truncatedThenOk) expect(r.max_output_tokens).toBeGreaterThanOrEqual(300);
  });
});

describe('a repeated result line', () => {
  it('each success comes again later in its file as a server_error: the first line of an item counts, so every item succeeds at its first attempt', async () => {
    const harness = await start({ scenario: { name: 'repeated-lines', outputFaults: { repeatedLine: 1 } } });
    await enqueueTickets(harness, 30);
    await allFinal(harness, 30);
    const rows = await facts(harness);
    expectConsistent(rows, 8, 10);
    expect(rows).toHaveLength(30);
    for (const r of rows) expect(r, JSON.stringify(r)).toMatchObject({ status: 'succeeded', attempts: 1, ran: 1, codes: [] });
    // The simulator did repeat every success (30 items, each a success once): the test saw the fault.
    expect(Object.values(harness.sim.stats().clients).reduce((n, c) => n + (c.faults.repeated_line ?? 0), 0)).toBe(30);
  });
});

describe('batch endings', () => {
  it('completed with every line failed (output_file_id null): nothing is lost, items retry then fail with their reason', async () => {
    const harness = await start({ scenario: ONLY('http500') });
    await enqueueTickets(harness, 4);
    await allFinal(harness, 4);
    const batches = await query<{ output_file_id: string | null; error_file_id: string | null; provider_status: string }>(harness.ctx.db, 'select output_file_id, error_file_id, provider_status from batches');
    expect(batches.length).toBe(8);
    for (const b of batches) expect(b).toMatchObject({ output_file_id: null, error_file_id: expect.any(String), provider_status: 'completed' });
  });

  it('expired with partial results: finished requests count, unfinished ones come back without spending an attempt', async () => {
    const harness = await start({ scenario: { name: 'expiring', timeScale: 20_000, batchFaults: { expire: { rate: 0.5, completedFraction: 0.5 } } }, seed: 7 });
    await enqueueTickets(harness, 60);
    await allFinal(harness, 60);
    const rows = await facts(harness);
    expectConsistent(rows, 8, 10);
    expect(rows.every((r) => r.status === 'succeeded')).toBe(true);
    const requeued = rows.filter((r) => r.not_executed > 0);
    expect(requeued.length).toBeGreaterThan(0);
    for (const r of requeued) {
      expect(r.codes).toContain('batch_expired');
      expect(r.attempts).toBe(1);
    }
    const expired = await query<{ n: number }>(harness.ctx.db, `select count(*)::int as n from batches where provider_status = 'expired'`);
    expect(expired[0]!.n).toBeGreaterThan(0);
  });

  it('failed at validation: nothing ran, items go back under their own bound and then fail with the reason', async () => {
    const mixedModels = defineTask({
      ...classifyTicket,
      name: 'mixed-models',
      limits: { maxAttempts: 3, maxRequeues: 2 },
      buildRequest: (input, opts) => ({ ...classifyTicket.buildRequest(input, opts), model: input.subject.length % 2 ? 'gpt-4o-mini' : 'gpt-4o-mini-2024-07-18' }),
      parseOutput: ({ content }) => parseJsonContent(content, z.unknown()),
    });
    const harness = await start({ registry: new TaskRegistry([withCountingHooks(mixedModels)]) });
    const items = Array.from({ length: 6 }, (_, i) => ({ externalId: `m${i}`, input: { subject: 'x'.repeat(i + 1), body: 'body' } }));
    await harness.ctx.queues.intake.add('intake', { task: 'mixed-models', items });
    await allFinal(harness, 6);
    const rows = await facts(harness);
    expectConsistent(rows, 3, 2);
    for (const r of rows) {
      expect(r).toMatchObject({ status: 'failed', error_code: 'not_executed', attempts: 0, requeues: 3 });
      expect(r.codes).toEqual(['batch_failed', 'batch_failed', 'not_executed']);
      expect(r.error_message).toMatch(/never executed after 3 batches/);
    }
    const [b] = await query<{ errors: Array<{ code: string }> }>(harness.ctx.db, `select errors from batches limit 1`);
    expect(b!.errors[0]!.code).toBe('model_mismatch');
  });

  it('cancelled (by us, mid-run): partial results are kept and the rest is requeued and completes', async () => {
    // Simulated time stands still until the batch is cancelled: the test moves it to a point where
    // 7 of 40 requests are done, so the cancel lands mid-run however slowly the fleet gets there.
    const harness = await start({
      scenario: { name: 'slow', timing: { validationSeconds: 1, secondsPerRequest: 2, minProcessingSeconds: 10, finalizingSeconds: 1, cancellingSeconds: 5 } },
      simulator: { timeScale: 0 },
    });
    await enqueueTickets(harness, 40);
    await waitFor('the batch at the provider', async () => {
      const [r] = await query<{ n: number }>(harness.ctx.db, `select count(*)::int as n from batches where provider_batch_id is not null`);
      return r!.n > 0;
    });
    harness.sim.clock.advance(1); // validation
    harness.sim.clock.advance(14); // 7 requests at 2 s each
    const [batch] = await waitFor('a batch in progress with some requests done', async () => {
      const rows = await query<{ id: string; provider_batch_id: string }>(harness.ctx.db, `select id, provider_batch_id from batches where status = 'in_progress' and completed_count > 5`);
      return rows.length ? rows : null;
    });
    await execute(harness.ctx.db, 'update batches set cancel_requested_at = now() where id = $1::uuid', batch!.id);
    await harness.ctx.provider.cancelBatch(batch!.provider_batch_id);
    harness.sim.clock.setTimeScale(20);
    await allFinal(harness, 40);
    const rows = await facts(harness);
    expectConsistent(rows, 8, 10);
    expect(rows.every((r) => r.status === 'succeeded')).toBe(true);
    const [c] = await query<{ kept: number; back: number }>(
      harness.ctx.db,
      `select count(*) filter (where outcome = 'succeeded')::int as kept, count(*) filter (where outcome = 'not_executed')::int as back from attempts where batch_id = $1::uuid`,
      batch!.id,
    );
    expect(c!.kept).toBeGreaterThan(0);
    expect(c!.back).toBeGreaterThan(0);
    expect(c!.kept + c!.back).toBe(40);
    const [status] = await query<{ provider_status: string }>(harness.ctx.db, 'select provider_status from batches where id = $1::uuid', batch!.id);
    expect(status!.provider_status).toBe('cancelled');
  });
});

/** classify-ticket without hooks and with a parser that does not read inputs: its lines are judged alone, and only non-successes read their items. */
const answerOnly = defineTask({ ...classifyTicket, name: 'classify-answer-only', parseOutputUsesInput: false, limits: { ...classifyTicket.limits, retryDelayMs: 20 } });

describe('idempotent processing', () => {
  const paths = [
    { task: 'classify-ticket', why: 'hooks read inputs: every pending item is read first', hooks: true, items: 50 },
    { task: 'classify-answer-only', why: 'lines judged alone: only the non-successes read their items', hooks: false, items: 50 },
    // Chunks of 1,000 lines: the output and error files make three or more, recorded two at a time.
    { task: 'classify-answer-only', why: 'chunks recorded two at a time', hooks: false, items: 2_500 },
  ] as const;
  for (const path of paths) {
    it(`processing the same output and error files again, or twice at once, changes nothing (${path.why})`, async () => {
      const harness = await start({
        registry: new TaskRegistry([...countingRegistry.all(), answerOnly]),
        scenario: { name: 'mixed', lineFaults: { http500: 0.2, invalidJson: 0.1, truncated: 0.1 } },
        env: { PROVIDER_FILE_RETENTION: 'keep' },
        roles: ['intake', 'build', 'submit', 'poll'],
      });
      await enqueueTickets(harness, path.items, path.task);
      const [batch] = await waitFor('a terminal batch', async () => {
        const rows = await query<{ id: string }>(harness.ctx.db, `select id from batches where status = 'completed'`);
        return rows.length ? rows : null;
      });
      await harness.fleet!.close(); // nothing else moves while the same files are processed again
      const snapshot = async () => {
        const [s] = await query<{ attempts: number; hooks: number; item_cost: number; attempt_cost: number; succeeded: number; queued: number; raised: number }>(
          harness.ctx.db,
          `select (select count(*)::int from attempts) as attempts, (select count(*)::int from hook_calls) as hooks,
                  (select coalesce(sum(cost_usd), 0)::float8 from items) as item_cost, (select coalesce(sum(cost_usd), 0)::float8 from attempts) as attempt_cost,
                  (select count(*)::int from items where status = 'succeeded') as succeeded, (select count(*)::int from items where status = 'queued') as queued,
                  (select count(*)::int from items where max_output_tokens > 150) as raised`,
        );
        const results = await countResults(harness.ctx.queues.resultsFor(path.task));
        return { ...s!, announced: results.waiting };
      };
      const [a, b] = await Promise.all([processBatch(harness.ctx, batch!.id), processBatch(harness.ctx, batch!.id)]);
      expect([a.kind, b.kind].sort()).toEqual(expect.arrayContaining(['processed']));
      const processed = [a, b].filter((o) => o.kind === 'processed');
      const first = await snapshot();
      expect(first.attempts).toBe(path.items);
      expect(first.item_cost).toBeCloseTo(first.attempt_cost, 10);
      expect(first.succeeded + first.queued).toBe(path.items);
      expect(first.succeeded).toBeGreaterThan(0);
      expect(first.queued).toBeGreaterThan(0);
      expect(first.hooks).toBe(path.hooks ? first.succeeded : 0);
      expect(first.announced).toBe(first.succeeded);
      // A truncated answer raised its item's output budget, read from the item's own history.
      const [truncated] = await query<{ n: number }>(harness.ctx.db, `select count(*)::int as n from attempts where error_code = 'truncated'`);
      expect(first.raised).toBe(truncated!.n);
      // The counts are what moved, whichever worker moved it.
      const moved = processed.reduce((t, o) => t + (o.kind === 'processed' ? o.succeeded + o.retried + o.requeued + o.failed : 0), 0);
      expect(moved).toBe(path.items);
      expect(processed.reduce((t, o) => t + (o.kind === 'processed' ? o.succeeded : 0), 0)).toBe(first.succeeded);

      // Replay: the batch row is set back as if its process job had never finished.
      await execute(harness.ctx.db, `update batches set status = 'completed', processed_at = null where id = $1::uuid`, batch!.id);
      const again = await processBatch(harness.ctx, batch!.id);
      expect(again.kind).toBe('processed');
      expect(again).toMatchObject({ succeeded: 0, retried: 0, failed: 0, requeued: 0 });
      expect(await snapshot()).toEqual(first);
    });
  }
});
