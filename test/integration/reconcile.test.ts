/*
 * Reconcile: PostgreSQL is the truth, Redis only the transport. After every key of a fleet is
 * deleted (SCAN + DEL on its prefix: our model of losing Redis for that fleet), `reconcile(ctx)`
 * rebuilds the build triggers, submit jobs, poll loops, process jobs and budget reservations from
 * the rows alone; running it again, many times at once, next to a live fleet changes nothing; the
 * periodic reconcile inside worker processes recovers a Redis loss mid-run on its own; and the
 * orphan rule cancels provider batches and deletes uploaded files the database does not account for.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { intake } from '../../src/pipeline/intake.ts';
import { reconcile, type ReconcileReport } from '../../src/pipeline/reconcile.ts';
import { META_BATCH_ID, META_SUBMISSION } from '../../src/pipeline/submit.ts';
import { jobIds, ROLES, type Role } from '../../src/queues/names.ts';
import countingRegistry, { HOOK_TABLE_SQL } from '../fixtures/counting-tasks.ts';
import { checkInvariants, deleteFleetKeys, describeState, progress, violations, type Item } from '../chaos/chaos.ts';
import { startHarness, type HarnessOptions, type TestHarness } from '../support/fleet.ts';
import { REDIS_URL } from '../support/redis.ts';
import { ProcessGroup, waitForWorkers, workerEnv } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const MODEL = 'gpt-4o-mini';
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** Runs a test body; if it fails, prints `explain()` (where the work stood) before the world is torn down. */
async function explained(explain: () => Promise<string>, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    console.error(await explain().catch((e: unknown) => `(could not describe the state: ${String(e)})`));
    throw err;
  }
}

async function harness(options: HarnessOptions): Promise<TestHarness> {
  const h = await startHarness({ registry: countingRegistry, roles: false, ...options });
  open.push(h);
  await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
  return h;
}

/** Stores items straight into PostgreSQL (what an intake job does), so a Redis loss cannot take them. */
async function store(h: TestHarness, items: readonly Item[]): Promise<void> {
  for (const task of [...new Set(items.map((i) => i.task))]) {
    const mine = items.filter((i) => i.task === task).map(({ externalId, input }) => ({ externalId, input }));
    const outcome = await intake(h.ctx, { task, items: mine });
    expect(outcome.accepted).toBe(mine.length);
  }
}

async function batchOf(h: TestHarness, externalPrefix: string): Promise<{ id: string; status: string; output_file_id: string | null; estimated_tokens: number } | undefined> {
  const [b] = await query<{ id: string; status: string; output_file_id: string | null; estimated_tokens: number }>(
    h.ctx.db,
    `select b.id::text as id, b.status, b.output_file_id, b.estimated_tokens::int as estimated_tokens
       from batches b where exists (select 1 from items i where i.batch_id = b.id and i.external_id like $1)`,
    `${externalPrefix}%`,
  );
  return b;
}

async function jobCounts(h: TestHarness): Promise<Record<Role, number>> {
  const out = {} as Record<Role, number>;
  for (const role of ROLES) {
    const c = await h.ctx.queues.byRole[role].getJobCounts('waiting', 'prioritized', 'delayed', 'active');
    out[role] = Object.values(c).reduce((a, b) => a + b, 0);
  }
  return out;
}

function expectNoDuplicateProviderBatches(h: TestHarness, ourBatches: number): void {
  const clients = Object.values(h.sim.stats().clients);
  expect(clients).toHaveLength(1);
  const seen = clients[0]!;
  expect(seen.batchesCreated).toBe(ourBatches);
  expect(Object.values(seen.batchesByMetadata[META_BATCH_ID] ?? {}).every((v) => v.count === 1)).toBe(true);
  expect(seen.duplicateInputFiles).toEqual([]);
  expect(seen.customIds.succeededMoreThanOnce).toBe(0);
}

describe('reconcile after the fleet loses its Redis keys', () => {
  it('rebuilds build triggers, submit jobs, poll loops, process jobs and reservations; running it again and concurrently changes nothing', async () => {
    // A frozen simulator clock holds batches where we put them.
    const h = await harness({ scenario: 'happy', simulator: { timeScale: 0 } });
    await explained(() => describeState(h.ctx.db, h.ctx.queues), async () => {
      // D: completed at the provider, recorded, its process job waiting (no process worker).
      await h.startFleet(['build', 'submit', 'poll']);
      await store(h, sampleItems('d', 100).filter((i) => i.task === 'classify-ticket'));
      await waitFor('D validating', async () => (await batchOf(h, 'd-'))?.status === 'validating');
      h.sim.clock.advance(100_000);
      const d = await waitFor('D completed and recorded', async () => {
        const b = await batchOf(h, 'd-');
        return b?.status === 'completed' && b.output_file_id ? b : null;
      });
      // C: submitted and open at the provider, polled, holding a budget reservation.
      await store(h, sampleItems('c', 100).filter((i) => i.task === 'summarize-article'));
      const c = await waitFor('C validating', async () => {
        const b = await batchOf(h, 'c-');
        return b?.status === 'validating' ? b : null;
      });
      await h.fleet!.close(5_000);
      // B: built, its submit job waiting (no submit worker).
      await store(h, sampleItems('b', 100).filter((i) => i.task === 'classify-ticket'));
      await h.startFleet(['build']);
      const b = await waitFor('B built', async () => {
        const row = await batchOf(h, 'b-');
        return row?.status === 'built' ? row : null;
      });
      await h.fleet!.close(5_000);
      // A: queued items, their build trigger waiting (no build worker).
      await store(h, sampleItems('a', 100).filter((i) => i.task === 'summarize-article'));

      expect(await jobCounts(h)).toMatchObject({ build: 1, submit: 1, poll: 1, process: 1 });
      expect([...(await h.ctx.budget.reservations(MODEL)).keys()]).toEqual([c.id]);

      const deleted = await deleteFleetKeys(h.prefix);
      expect(deleted).toBeGreaterThan(0);
      expect(await jobCounts(h)).toEqual({ intake: 0, build: 0, submit: 0, poll: 0, process: 0, sync: 0 });
      expect(await h.ctx.budget.used(MODEL)).toBe(0);

      const report = await reconcile(h.ctx);
      expect(report).toMatchObject({ buildTriggers: 1, submitJobs: 1, pollJobs: 1, processJobs: 1, reservationsAdded: 1, reservationsReleased: 0 });
      expect(await jobCounts(h)).toMatchObject({ build: 1, submit: 1, poll: 1, process: 1 });
      expect(await h.ctx.queues.submit.getJob(jobIds.submit(b.id, 0))).toBeDefined();
      expect(await h.ctx.queues.poll.getJob(jobIds.poll(c.id, 0))).toBeDefined();
      expect(await h.ctx.queues.process.getJob(jobIds.process(d.id))).toBeDefined();
      const waitingBuild = await h.ctx.queues.build.getJobs(['waiting', 'prioritized']);
      expect(waitingBuild.map((j) => j.data)).toEqual([{ task: 'summarize-article' }]);
      expect(Object.fromEntries(await h.ctx.budget.reservations(MODEL))).toEqual({ [c.id]: c.estimated_tokens });

      // Again, five at once: nothing is added twice.
      const again = await Promise.all(Array.from({ length: 5 }, () => reconcile(h.ctx)));
      for (const r of again) expect(r).toMatchObject({ reservationsAdded: 0, reservationsReleased: 0 });
      expect(await jobCounts(h)).toMatchObject({ build: 1, submit: 1, poll: 1, process: 1 });
      expect(await h.ctx.budget.used(MODEL)).toBe(c.estimated_tokens);

      // Let everything run, with reconcile storms (three at a time, back to back) alongside the fleet.
      h.sim.clock.setTimeScale(1_000);
      await h.startFleet();
      let storms = 0;
      let done = false;
      const storm = (async () => {
        while (!done) {
          await Promise.all([reconcile(h.ctx), reconcile(h.ctx), reconcile(h.ctx)]);
          storms++;
        }
      })();
      try {
        // Also at least six storms: how many fit into the run depends on the machine, not on reconcile.
        await waitFor('all 200 items final, every batch processed, no reservation left, six storms or more', async () => {
          const p = await progress(h.ctx.db);
          return p.final === 200 && p.openBatches === 0 && storms > 5 && (await h.ctx.budget.used(MODEL)) === 0;
        }, 120_000, 200);
      } finally {
        done = true;
        await storm;
      }
      expect(storms).toBeGreaterThan(5);
      await h.sim.idle();
      const inv = await checkInvariants(h.ctx.db, h.sim);
      expect(violations(inv, 200)).toEqual([]);
      expect(inv).toMatchObject({ succeeded: 200, attempts: 200, attemptOutcomes: { succeeded: 200 } });
      expectNoDuplicateProviderBatches(h, inv.batches);
      expect(await h.ctx.budget.used(MODEL)).toBe(0);
    });
  }, 300_000);

  it('the periodic reconcile inside worker processes recovers a Redis loss mid-run on its own', async () => {
    const h = await harness({ scenario: 'happy' });
    const group = new ProcessGroup(
      workerEnv({ databaseUrl: h.database.url, redisUrl: REDIS_URL, prefix: h.prefix, simulatorUrl: h.sim.url, dataDir: h.config.dataDir }, { RECONCILE_EVERY_MS: '1000' }),
    );
    open.push({ close: () => group.stopAll() });
    await explained(async () => `${await describeState(h.ctx.db, h.ctx.queues)}\n${group.report()}`, async () => {
      group.startEach(ROLES, 1);
      await waitForWorkers(h.ctx.queues, Object.fromEntries(ROLES.map((r) => [r, 1])), 90_000);

      // A producer storing 2,000 items in 10 parts, one every 300 ms, while the fleet works.
      const items = sampleItems('p', 2_000);
      const producer = (async () => {
        for (let i = 0; i < items.length; i += 200) {
          await store(h, items.slice(i, i + 200));
          await new Promise((r) => setTimeout(r, 300));
        }
      })();

      // Lose Redis while batches are open at the provider and others are already processed.
      const atLoss = await waitFor(
        'open and processed batches at once',
        async () => {
          const [r] = await query<{ open: number; processed: number }>(
            h.ctx.db,
            `select count(*) filter (where status in ('submitting', 'validating', 'in_progress', 'finalizing', 'completed'))::int as open,
                    count(*) filter (where status = 'processed')::int as processed from batches`,
          );
          return r!.open > 0 && r!.processed > 0 ? r : null;
        },
        90_000,
        25,
      );
      const deleted = await deleteFleetKeys(h.prefix);
      expect(deleted).toBeGreaterThan(0);
      await producer;

      await waitFor('all 2,000 items final, every batch processed, no reservation left', async () => {
        const p = await progress(h.ctx.db);
        return p.final === 2_000 && p.openBatches === 0 && (await h.ctx.budget.used(MODEL)) === 0;
      }, 120_000, 250);
      expect(group.crashed()).toEqual([]);
      await group.stopAll();
      await h.sim.idle();
      const inv = await checkInvariants(h.ctx.db, h.sim);
      expect(violations(inv, 2_000)).toEqual([]);
      expect(inv).toMatchObject({ succeeded: 2_000, attempts: 2_000 });
      expectNoDuplicateProviderBatches(h, inv.batches);
      expect(await h.ctx.budget.used(MODEL)).toBe(0);
      console.log(`reconcile: Redis lost with ${atLoss.open} batches open and ${atLoss.processed} processed (${deleted} keys); ${inv.batches} batches in all`);
    });
  }, 300_000);
});

describe('the orphan rule', () => {
  it('cancels provider batches and deletes uploaded files that the database does not account for, and nothing else', async () => {
    const h = await harness({ scenario: 'happy', simulator: { timeScale: 0 } });
    const provider = h.ctx.provider;
    const dir = await mkdtemp(join(tmpdir(), 'batchfleet-orphans-'));
    open.push({ close: () => rm(dir, { recursive: true, force: true }) });
    const line = JSON.stringify({ custom_id: 'x-1', method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] } });
    const upload = async (filename: string) => {
      const path = join(dir, `${randomUUID()}.jsonl`);
      await writeFile(path, `${line}\n`);
      return (await provider.uploadFile(path, filename)).id;
    };
    const create = async (metadata: Record<string, string>) =>
      (await provider.createBatch({ inputFileId: await upload(`input-${randomUUID()}.jsonl`), endpoint: '/v1/chat/completions', metadata })).id;

    // Rows we know: one open batch with its provider batch, one processed.
    const openId = randomUUID();
    const processedId = randomUUID();
    const recorded = await create({ [META_BATCH_ID]: openId, [META_SUBMISSION]: '0' });
    await h.ctx.db.$executeRawUnsafe(
      `insert into batches (id, task, model, endpoint, status, provider_batch_id) values
         ($1::uuid, 'classify-ticket', $3, '/v1/chat/completions', 'in_progress', $2),
         ($4::uuid, 'classify-ticket', $3, '/v1/chat/completions', 'processed', null)`,
      openId, recorded, MODEL, processedId,
    );

    const unknownBatch = await create({ [META_BATCH_ID]: randomUUID(), [META_SUBMISSION]: '0' }); // no such row
    const strayBatch = await create({ [META_BATCH_ID]: openId, [META_SUBMISSION]: '0' }); // a second batch for a known row
    const foreign = await create({ owner: 'someone else' }); // not ours at all
    const unknownFile = await upload(`batchfleet-${randomUUID()}.jsonl`);
    const processedFile = await upload(`batchfleet-${processedId}.jsonl`);
    const openFile = await upload(`batchfleet-${openId}.jsonl`);
    const otherFile = await upload('someone-elses.jsonl');

    const status = async (id: string) => (await provider.retrieveBatch(id)).status;
    const files = async () => {
      const ids = new Set<string>();
      for await (const f of provider.listBatchFiles()) ids.add(f.id);
      return ids;
    };

    // The ordinary reconcile leaves the provider alone.
    const plain: ReconcileReport = await reconcile(h.ctx);
    expect(plain).toMatchObject({ orphanBatchesCancelled: 0, orphanFilesDeleted: 0 });
    expect(await status(unknownBatch)).toBe('validating');
    expect((await files()).has(unknownFile)).toBe(true);

    const report = await reconcile(h.ctx, { orphans: true });
    expect(report).toMatchObject({ orphanBatchesCancelled: 2, orphanFilesDeleted: 2 });
    expect(['cancelling', 'cancelled']).toContain(await status(unknownBatch));
    expect(['cancelling', 'cancelled']).toContain(await status(strayBatch));
    expect(await status(recorded)).toBe('validating');
    expect(await status(foreign)).toBe('validating');
    const left = await files();
    expect(left.has(unknownFile)).toBe(false);
    expect(left.has(processedFile)).toBe(false);
    expect(left.has(openFile)).toBe(true);
    expect(left.has(otherFile)).toBe(true);

    // Idempotent: a second pass finds nothing more to do.
    expect(await reconcile(h.ctx, { orphans: true })).toMatchObject({ orphanBatchesCancelled: 0, orphanFilesDeleted: 0 });
  });
});
