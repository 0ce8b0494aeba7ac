/**
 * The CLI against a real fleet (PostgreSQL, Redis, simulator): `main([...])` runs in-process with
 * the harness's configuration, and once through `bin/batchfleet.mjs` as a child process with the
 * same settings in its environment. The simulator fails 20% of request bodies with a permanent
 * 400, so the run leaves a dead letter to inspect and re-drive.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli/main.ts';
import { BATCH_STATUSES } from '../../src/store/batch-states.ts';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { intake } from '../../src/pipeline/intake.ts';
import { SEED_PRICE_TABLE_VERSION } from '../../src/pricing/index.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { REDIS_URL } from '../support/redis.ts';
import { waitFor } from '../support/wait.ts';

const ITEMS = 60;
const MODEL = 'gpt-4o-mini';
let h: TestHarness;

interface Run {
  code: number;
  out: string;
  err: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: () => any;
}

async function cli(args: string[], io: Partial<CliIO> = {}): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(args, {
    config: h.config,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    ...io,
  });
  return { code, out, err, json: () => JSON.parse(out) };
}

/** Runs the CLI and expects it to refuse: this exit code, exactly this one line on stderr. */
async function expectRefusal(args: string[], code: number, err: string): Promise<void> {
  const r = await cli(args);
  expect({ code: r.code, err: r.err }).toEqual({ code, err });
}

async function one<T>(sql: string, ...params: unknown[]): Promise<T> {
  const [row] = await query<T>(h.ctx.db, sql, ...params);
  return row!;
}

beforeAll(async () => {
  h = await startHarness({ scenario: { name: 'cli-test', lineFaults: { http400: 0.2 } }, seed: 11 });
  const items = sampleItems('cli', ITEMS);
  for (const task of ['classify-ticket', 'summarize-article'] as const) {
    await h.ctx.queues.intake.add('intake', { task, items: items.filter((i) => i.task === task).map(({ externalId, input }) => ({ externalId, input })) });
  }
  await waitFor(
    'every item final and every batch processed',
    async () => {
      const r = await one<{ final: number; open: number }>(
        `select (select count(*)::int from items where status in ('succeeded', 'failed')) as final,
                (select count(*)::int from batches where status <> 'processed') as open`,
      );
      return r.final === ITEMS && r.open === 0;
    },
    60_000,
  );
});

afterAll(async () => {
  await h?.close();
});

describe('batchfleet CLI', () => {
  it('status --json: queue depths, batches and items by status, equal to the stores', async () => {
    const r = await cli(['status', '--json']);
    expect(r.code, r.err).toBe(0);
    const s = r.json();
    const items = await query<{ status: string; n: number }>(h.ctx.db, 'select status, count(*)::int as n from items group by status');
    expect(s.items.byStatus).toEqual(Object.fromEntries(items.map((i) => [i.status, i.n])));
    expect(s.items.byStatus.failed).toBeGreaterThanOrEqual(2);
    expect((s.items.byStatus.succeeded ?? 0) + s.items.byStatus.failed).toBe(ITEMS);
    const batches = await one<{ n: number }>(`select count(*)::int as n from batches where status = 'processed'`);
    expect(s.batches.byStatus).toEqual({ processed: batches.n });
    const names = s.queues.map((q: { queue: string }) => q.queue);
    expect(names).toEqual(expect.arrayContaining(['intake', 'build', 'submit', 'poll', 'process', 'results.classify-ticket', 'results.summarize-article']));
    const results = s.queues.find((q: { queue: string }) => q.queue === 'results.classify-ticket');
    expect(results.counts.waiting).toBe(await h.ctx.queues.resultsFor('classify-ticket').getWaitingCount());
    expect(s.held).toEqual([]);

    const human = await cli(['status']);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^QUEUE\s+WAITING\s+ACTIVE/m);
    expect(human.out).toContain(`processed ${batches.n}`);
  });

  it('items and batches --json filter by task, status, reason and batch', async () => {
    const failed = await query<{ id: string; error_code: string }>(h.ctx.db, `select id::text, error_code from items where status = 'failed'`);
    const r = await cli(['items', '--status', 'failed', '--limit', '1000', '--json']);
    expect(r.code, r.err).toBe(0);
    const list = r.json().items as Array<{ id: string; status: string; errorCode: string }>;
    expect(list.map((i) => i.id).sort()).toEqual(failed.map((f) => f.id).sort());
    expect(new Set(list.map((i) => i.status))).toEqual(new Set(['failed']));

    const code = failed[0]!.error_code;
    const byReason = (await cli(['items', '--reason', code, '--limit', '1000', '--json'])).json().items as Array<{ errorCode: string }>;
    expect(byReason.length).toBe(failed.filter((f) => f.error_code === code).length);

    const five = (await cli(['items', '--task', 'summarize-article', '--limit', '5', '--json'])).json();
    expect(five.count).toBe(5);
    expect(five.items.every((i: { task: string }) => i.task === 'summarize-article')).toBe(true);

    const batch = await one<{ id: string; provider_batch_id: string; n: number }>(
      `select b.id::text, b.provider_batch_id, (select count(*)::int from attempts a where a.batch_id = b.id) as n from batches b order by b.created_at limit 1`,
    );
    const inBatch = (await cli(['items', '--batch', batch.provider_batch_id, '--limit', '1000', '--json'])).json();
    expect(inBatch.count).toBe(batch.n);

    const batches = (await cli(['batches', '--task', 'classify-ticket', '--json'])).json().batches as Array<{ task: string; status: string }>;
    const count = await one<{ n: number }>(`select count(*)::int as n from batches where task = 'classify-ticket'`);
    expect(batches.length).toBe(count.n);
    expect(batches.every((b) => b.task === 'classify-ticket' && b.status === 'processed')).toBe(true);

    await expectRefusal(['items', '--status', 'nonsense'], 2, 'batchfleet: --status "nonsense" is not a known item status; use one of: queued, batched, submitted, succeeded, failed, cancelled\n');
  });

  it('show: an item with its attempt history, by id or by task + external id; a batch by our or the provider id', async () => {
    const failed = await one<{ id: string; task: string; external_id: string }>(`select id::text, task, external_id from items where status = 'failed' order by id limit 1`);
    const r = await cli(['show', failed.id, '--json']);
    expect(r.code, r.err).toBe(0);
    const shown = r.json();
    expect(shown.kind).toBe('item');
    expect(shown.item).toMatchObject({ id: failed.id, status: 'failed', externalId: failed.external_id });
    const attempts = await query<{ outcome: string }>(h.ctx.db, 'select outcome from attempts where item_id = $1::uuid order by created_at, id', failed.id);
    expect(shown.item.history.map((x: { outcome: string }) => x.outcome)).toEqual(attempts.map((a) => a.outcome));
    expect(shown.item.history.length).toBeGreaterThan(0);

    const byExternal = (await cli(['show', '--task', failed.task, '--external-id', failed.external_id, '--json'])).json();
    expect(byExternal.item.id).toBe(failed.id);

    const human = await cli(['show', failed.id]);
    expect(human.out).toMatch(/history \(\d+ attempts?\):/);
    expect(human.out).toContain(failed.external_id);

    const b = await one<{ id: string; provider_batch_id: string; request_count: number }>(
      `select id::text, provider_batch_id, request_count from batches order by created_at limit 1`,
    );
    const batch = (await cli(['show', b.provider_batch_id, '--json'])).json();
    expect(batch.kind).toBe('batch');
    expect(batch.batch).toMatchObject({ id: b.id, providerBatchId: b.provider_batch_id, status: 'processed', requestCount: b.request_count });
    const outcomes = Object.values(batch.batch.attemptsByOutcome as Record<string, number>).reduce((a, n) => a + n, 0);
    expect(outcomes).toBe(b.request_count);
    expect(batch.batch.processedAt).toBeTruthy();
    expect((await cli(['show', b.id, '--json'])).json().batch.id).toBe(b.id);

    const unknown = randomUUID();
    await expectRefusal(['show', unknown], 1, `batchfleet: no item or batch ${unknown}; list them with \`batchfleet items\` or \`batchfleet batches\`\n`);
  });

  it('cost --json: totals equal the sum over attempts; Batch cost is half the sync cost for gpt-4o-mini', async () => {
    const r = await cli(['cost', '--json']);
    expect(r.code, r.err).toBe(0);
    const c = r.json();
    const sums = await one<{ cost: string; sync: string; n: number }>(
      `select sum(cost_usd)::text as cost, sum(sync_cost_usd)::text as sync, count(*)::int as n from attempts`,
    );
    expect(c.totalCostUsd).toBeGreaterThan(0);
    expect(c.totalCostUsd).toBe(Number(sums.cost));
    expect(c.totalSyncCostUsd).toBe(Number(sums.sync));
    expect(c.savingsUsd).toBeCloseTo(Number(sums.sync) - Number(sums.cost), 9);
    expect(c.totalCostUsd * 2).toBeCloseTo(c.totalSyncCostUsd, 9);
    expect(c.savingsPct).toBeCloseTo(50, 1);
    expect(c.priceTableVersion).toBe(SEED_PRICE_TABLE_VERSION);
    expect(c.by).toBe('task');
    expect(c.rows.map((x: { key: string }) => x.key)).toEqual(['classify-ticket', 'summarize-article']);
    const rowSum = c.rows.reduce((a: number, x: { costUsd: number }) => a + x.costUsd, 0);
    expect(rowSum).toBeCloseTo(c.totalCostUsd, 9);
    expect(c.rows.reduce((a: number, x: { attempts: number }) => a + x.attempts, 0)).toBe(sums.n);

    const byModel = (await cli(['cost', '--by', 'model', '--json'])).json();
    expect(byModel.rows).toHaveLength(1);
    expect(byModel.rows[0]).toMatchObject({ key: MODEL, costUsd: c.totalCostUsd });

    const byDay = (await cli(['cost', '--by', 'day', '--json'])).json();
    expect(byDay.rows.map((x: { key: string }) => x.key)).toEqual([new Date().toISOString().slice(0, 10)]);

    const future = (await cli(['cost', '--since', '2999-01-01', '--json'])).json();
    expect(future).toMatchObject({ totalCostUsd: 0, totalSyncCostUsd: 0, rows: [] });

    const human = await cli(['cost']);
    expect(human.out).toMatch(/^TOTAL\s+\d+/m);
    expect(human.out).toContain(`prices: ${SEED_PRICE_TABLE_VERSION}`);
  });

  it('budget --json: limits, reserved tokens (as in Redis) and held batches per model', async () => {
    const reservation = randomUUID();
    const held = randomUUID();
    await h.ctx.budget.reserve(MODEL, reservation, 1_234, 10 ** 9);
    await query(
      h.ctx.db,
      `insert into batches (id, task, model, endpoint, status, held_reason, held_since)
       values ($1::uuid, 'classify-ticket', $2, '/v1/chat/completions', 'built', 'token budget for gpt-4o-mini: test', now() - interval '90 seconds')
       returning id`,
      held,
      MODEL,
    );
    try {
      const r = await cli(['budget', '--json']);
      expect(r.code, r.err).toBe(0);
      const row = r.json().models.find((m: { model: string }) => m.model === MODEL);
      const view = await h.ctx.limits.view(MODEL);
      expect(row).toMatchObject({
        model: MODEL,
        configured: view.configured,
        learned: view.learned,
        effective: view.effective,
        reservedTokens: await h.ctx.budget.used(MODEL),
        reservations: 1,
        heldBatches: 1,
      });
      expect(row.reservedTokens).toBe(1_234);
      expect(row.oldestWaitMs).toBeGreaterThanOrEqual(89_000);

      const status = (await cli(['status', '--json'])).json();
      expect(status.held).toEqual([expect.objectContaining({ id: held, reason: 'token budget for gpt-4o-mini: test' })]);
      expect((await cli(['budget'])).out).toMatch(/^gpt-4o-mini\s+[\d,]+\s+-\s+[\d,]+\s+1,234\s/m);
    } finally {
      await h.ctx.budget.release(MODEL, reservation);
      await query(h.ctx.db, 'delete from batches where id = $1::uuid returning id', held);
    }
  });

  it('retry re-drives a failed item (attempts reset, history kept) and refuses without a filter; cancel --item cancels a queued item', async () => {
    const refused = await cli(['retry']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/retry needs a filter/);

    // Builds are paused so re-queued items stay queued while we look at them.
    await h.ctx.queues.build.pause();
    const item = await one<{ id: string; attempts: number; task: string }>(`select id::text, attempts, task from items where status = 'failed' order by id limit 1`);
    const succeeded = await one<{ id: string }>(`select id::text from items where status = 'succeeded' limit 1`);
    const historyBefore = await one<{ n: number }>('select count(*)::int as n from attempts where item_id = $1::uuid', item.id);

    const r = await cli(['retry', '--item', item.id, '--item', succeeded.id, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(r.json()).toMatchObject({ retried: 1, byTask: { [item.task]: 1 }, skipped: [{ id: succeeded.id, status: 'succeeded' }] });
    const after = await one<{ status: string; attempts: number; requeues: number; error_code: string | null; error_message: string | null; batch_id: string | null }>(
      'select status, attempts, requeues, error_code, error_message, batch_id from items where id = $1::uuid',
      item.id,
    );
    expect(after).toEqual({ status: 'queued', attempts: 0, requeues: 0, error_code: null, error_message: null, batch_id: null });
    expect((await one<{ n: number }>('select count(*)::int as n from attempts where item_id = $1::uuid', item.id)).n).toBe(historyBefore.n);
    const builds = await h.ctx.queues.build.getJobs(['waiting', 'delayed', 'prioritized']);
    expect(builds.some((j) => j.data.task === item.task)).toBe(true);

    // A queued item (builds paused, so it stays queued) can be cancelled; a failed one cannot.
    await intake(h.ctx, { task: 'classify-ticket', externalId: 'cli-cancel-me', input: { subject: 'cancel me', body: 'please' } });
    const queued = await one<{ id: string }>(`select id::text from items where external_id = 'cli-cancel-me'`);
    const stillFailed = await one<{ id: string }>(`select id::text from items where status = 'failed' limit 1`);
    const cancelled = await cli(['cancel', '--item', queued.id, '--item', stillFailed.id, '--json']);
    expect(cancelled.code, cancelled.err).toBe(0);
    expect(cancelled.json()).toEqual({ cancelled: [queued.id], skipped: [{ id: stillFailed.id, status: 'failed' }] });

    // The re-driven item runs again; its 400 is permanent for its body, so it fails again, with two attempts of history.
    await h.ctx.queues.build.resume();
    await waitFor('the re-driven item final again', async () => {
      const s = await one<{ status: string }>('select status from items where id = $1::uuid', item.id);
      return s.status === 'failed';
    });
    const again = await one<{ attempts: number; n: number; status: string }>(
      `select i.attempts, i.status, (select count(*)::int from attempts a where a.item_id = i.id) as n from items i where i.id = $1::uuid`,
      item.id,
    );
    expect(again).toEqual({ attempts: 1, status: 'failed', n: historyBefore.n + 1 });
    expect((await one<{ status: string }>('select status from items where id = $1::uuid', queued.id)).status).toBe('cancelled');

    const human = await cli(['retry', '--reason', 'no_such_code']);
    expect(human.out).toMatch(/^re-queued 0 failed items/m);
  });

  it('savings-estimate reads a JSONL file of past synchronous usage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bf-cli-'));
    try {
      const file = join(dir, 'usage.jsonl');
      await writeFile(
        file,
        [
          JSON.stringify({ model: MODEL, input_tokens: 1_000_000, output_tokens: 500_000 }),
          JSON.stringify({ model: 'gpt-4o-mini-2024-07-18', usage: { prompt_tokens: 2_000, completion_tokens: 1_000, total_tokens: 3_000 } }),
          'not json',
        ].join('\n'),
      );
      const r = await cli(['savings-estimate', file, '--json']);
      expect(r.code, r.err).toBe(0);
      const report = r.json();
      expect(report.total.requests).toBe(2);
      expect(report.badLines.count).toBe(1);
      expect(report.total.batchCostUsd * 2).toBeCloseTo(report.total.syncCostUsd, 9);
      expect(report.total.savingsPct).toBe(50);
      expect((await cli(['savings-estimate', file])).out).toMatch(/^TOTAL\s+2\s/m);
      const human = (await cli(['savings-estimate', file])).out;
      // The same table formatter as every other command: capital headers, numbers right-aligned.
      expect(human).toMatch(/^MODEL {2,}REQUESTS {2,}INPUT {2,}CACHED {2,}OUTPUT {2,}SYNC COST {2,}BATCH COST {2,}SAVINGS {2,}SAVINGS %$/m);
      expect(human).toMatch(/^gpt-4o-mini {9}2 {2}1,002,000 {7}0 {2}501,000 {2}\$0\.450900 {3}\$0\.225450 {2}\$0\.225450 {5}50\.00%$/m);

      const what = 'give the path of a JSONL file of usage records (one {"model", "input_tokens", "output_tokens"} per line)';
      await expectRefusal(['savings-estimate', join(dir, 'nope.jsonl')], 2, `batchfleet: no file ${join(dir, 'nope.jsonl')}; ${what}\n`);
      await expectRefusal(['savings-estimate', dir], 2, `batchfleet: ${dir} is a directory; ${what}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('dates and numbers: ISO dates and times, today, yesterday and ages are accepted; anything else is one line, exit 2', async () => {
    const total = (await cli(['cost', '--json'])).json().totalCostUsd;
    for (const since of ['yesterday', 'today', '24h', '7d', new Date(Date.now() - 86_400_000).toISOString().slice(0, 10), new Date(Date.now() - 3_600_000).toISOString()]) {
      const r = await cli(['cost', '--since', since, '--json']);
      expect(r.code, `${since}: ${r.err}`).toBe(0);
      expect(r.json().totalCostUsd).toBe(total); // every attempt of this run is from the last hour
      expect(new Date(r.json().since).getTime()).toBeLessThanOrEqual(Date.now());
    }
    const human = await cli(['cost', '--since', 'yesterday']);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/; since \d{4}-\d{2}-\d{2}T00:00:00\.000Z;/);

    const NOT_A_DATE = (flag: string, v: string) => `batchfleet: ${flag} "${v}" is not a date; use an ISO date (2026-12-01), "today", "yesterday" or a duration like 24h or 7d\n`;
    for (const [args, err] of [
      [['cost', '--since', 'foo'], NOT_A_DATE('--since', 'foo')],
      [['cost', '--since', '2026-02-30'], NOT_A_DATE('--since', '2026-02-30')],
      [['failures', '--since', 'last week'], NOT_A_DATE('--since', 'last week')],
      [['items', '--limit', '0'], 'batchfleet: --limit "0" is not a positive whole number; use e.g. --limit 100\n'],
      [['batches', '--limit', 'ten'], 'batchfleet: --limit "ten" is not a positive whole number; use e.g. --limit 100\n'],
      [['batches', '--status', 'done'], `batchfleet: --status "done" is not a known batch status; use one of: ${BATCH_STATUSES.join(', ')}\n`],
      [['cost', '--by', 'week'], 'batchfleet: --by "week" is not a known grouping; use one of: task, model, day\n'],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toBe(err);
      expect(r.out).toBe('');
    }
    const failures = await cli(['failures', '--since', 'today', '--json']);
    expect(failures.code, failures.err).toBe(0);
  });

  it('an unknown task is a usage error naming the known tasks; an unknown batch id is not found', async () => {
    const known = 'known tasks: classify-ticket, summarize-article, responses-example';
    for (const args of [['retry', '--task', 'no-such-task'], ['items', '--task', 'no-such-task'], ['batches', '--task', 'no-such-task'], ['show', '--task', 'no-such-task', '--external-id', 'x']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toBe(`batchfleet: --task "no-such-task" is not a task of this fleet; ${known}\n`);
    }
    const failedBefore = await one<{ n: number }>(`select count(*)::int as n from items where status = 'failed'`);
    expect(failedBefore.n).toBeGreaterThan(0); // and the refused retry re-queued none of them

    await expectRefusal(['items', '--batch', 'batch_nope'], 1, 'batchfleet: no batch batch_nope; list them with `batchfleet batches`\n');
    await expectRefusal(['cancel', 'batch_nope'], 1, 'batchfleet: no batch batch_nope (neither our id nor a provider batch id); list them with `batchfleet batches`\n');
    const unknownItem = randomUUID();
    const noRetry = await cli(['retry', '--item', unknownItem]);
    expect(noRetry.code).toBe(1);
    expect(noRetry.out).toContain(`skipped ${unknownItem}: no such item`);
    expect(noRetry.err).toBe('batchfleet: nothing was re-queued: none of the given items is failed\n');
    await expectRefusal(['show', '--task', 'classify-ticket', '--external-id', 'never-sent'], 1, 'batchfleet: no item with external id "never-sent" in task classify-ticket; list them with `batchfleet items --task classify-ticket`\n');
  });

  it("simulator: the simulator's own refusals are one line too, exit 2", async () => {
    await expectRefusal(['simulator', '--port', 'foo'], 2, 'batchfleet: --port must be a number, got "foo"; see `batchfleet simulator --help`\n');
    await expectRefusal(['simulator', '--frob'], 2, "batchfleet: Unknown option '--frob'; see `batchfleet simulator --help`\n");
  });

  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')).version}\n`);
  });

  it('runs through bin/batchfleet.mjs with the settings in its environment', async () => {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'batchfleet.mjs');
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'status', '--json'], {
      env: { ...process.env, DATABASE_URL: h.database.url, REDIS_URL, BATCHFLEET_PREFIX: h.prefix, DATA_DIR: h.config.dataDir, LOG_LEVEL: 'silent' },
      timeout: 60_000,
    });
    const s = JSON.parse(stdout);
    const total = await one<{ n: number }>('select count(*)::int as n from items');
    expect(Object.values(s.items.byStatus as Record<string, number>).reduce((a, n) => a + n, 0)).toBe(total.n);
  });
});

describe('batchfleet cancel <batch>', () => {
  let frozen: TestHarness;
  beforeAll(async () => {
    // Simulated time stands still: the batch stays `validating` at the provider until we advance it.
    frozen = await startHarness({ simulator: { timeScale: 0 } });
  });
  afterAll(async () => {
    await frozen?.close();
  });

  it('asks the provider to cancel an open batch; processing then requeues its unfinished items', async () => {
    await frozen.ctx.queues.intake.add('intake', {
      task: 'classify-ticket',
      items: [1, 2, 3].map((i) => ({ externalId: `cancel-${i}`, input: { subject: `s${i}`, body: `b${i}` } })),
    });
    const batch = await waitFor('a submitted batch', async () => {
      const [b] = await query<{ id: string; provider_batch_id: string; status: string }>(frozen.ctx.db, `select id::text, provider_batch_id, status from batches where status = 'validating'`);
      return b;
    });
    let out = '';
    const code = await main(['cancel', batch.provider_batch_id, '--json'], { config: frozen.config, stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } });
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ batchId: batch.id, providerBatchId: batch.provider_batch_id, previousStatus: 'validating', outcome: 'cancel_requested', providerStatus: 'cancelling' });
    const [row] = await query<{ cancel_requested_at: Date | null }>(frozen.ctx.db, 'select cancel_requested_at from batches where id = $1::uuid', batch.id);
    expect(row!.cancel_requested_at).toBeInstanceOf(Date);

    frozen.sim.clock.advance(3_600);
    await waitFor('the cancelled batch processed', async () => {
      const [b] = await query<{ status: string }>(frozen.ctx.db, 'select status from batches where id = $1::uuid', batch.id);
      return b?.status === 'processed';
    });
    const attempts = await query<{ outcome: string; n: number }>(frozen.ctx.db, 'select outcome, count(*)::int as n from attempts where batch_id = $1::uuid group by outcome', batch.id);
    expect(attempts).toEqual([{ outcome: 'not_executed', n: 3 }]);
    const items = await query<{ requeues: number; attempts: number }>(frozen.ctx.db, `select requeues, attempts from items where external_id like 'cancel-%'`);
    expect(items).toEqual([1, 2, 3].map(() => ({ requeues: 1, attempts: 0 })));

    let err = '';
    const again = await main(['cancel', batch.id], { config: frozen.config, stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) } });
    expect(again).toBe(1);
    expect(err).toMatch(/already processed/);
  });

  it('a provider that does not answer: one line naming where it was looked for', async () => {
    const id = randomUUID();
    await query(
      frozen.ctx.db,
      `insert into batches (id, task, model, endpoint, status, provider_batch_id, provider_status, submitted_at)
       values ($1::uuid, 'classify-ticket', 'gpt-4o-mini', '/v1/chat/completions', 'in_progress', 'batch_unanswered', 'in_progress', now()) returning id`,
      id,
    );
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const baseURL = `http://127.0.0.1:${port}/v1`;
    const config = { ...frozen.config, provider: { ...frozen.config.provider, baseURL } };
    let err = '';
    const code = await main(['cancel', id], { config, stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) } });
    expect(code).toBe(1);
    expect(err).toBe(`batchfleet: cancel batch: connection failed; is the provider at ${baseURL} reachable? (SIMULATOR_URL)\n`);
    const [row] = await query<{ cancel_requested_at: Date | null }>(frozen.ctx.db, 'select cancel_requested_at from batches where id = $1::uuid', id);
    expect(row!.cancel_requested_at).toBeNull();
  });
});
