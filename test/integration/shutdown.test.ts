/*
 * Issue #6, graceful shutdown: a worker process that receives SIGTERM in the middle of a stage
 * (intake, build, submit, poll, process) exits by itself with code 0 (SHUTDOWN_TIMEOUT_MS is 3,000 ms
 * here), leaves no job of its stage active (each one finished, or handed back to the queue) and no
 * processing lease held, no BullMQ job ends in `failed` because of it, and another process then
 * completes the work. The stages are made busy on purpose: 10,000-item intake jobs, a 10,000-item
 * build, every provider call slowed by the simulator's `slow` control-plane fault (submit and poll),
 * and 10,000-line result files (process). How long each exit took is printed, never asserted: a
 * loaded machine only makes it slower, and the bound itself is the product's timer, not the test's.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { Job, Queue } from 'bullmq';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { ROLES, type Role } from '../../src/queues/names.ts';
import countingRegistry, { HOOK_TABLE_SQL } from '../fixtures/counting-tasks.ts';
import { checkInvariants, describeState, enqueueItems, violations } from '../chaos/chaos.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { REDIS_URL } from '../support/redis.ts';
import { ProcessGroup, workerEnv, type WorkerProcess } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const BOUND_MS = 3_000;
/**
 * How long the test waits after SIGTERM before it SIGKILLs the process itself: a hang detector, not
 * a speed claim. A process still running this long after its 3 s bound ignored the signal or hung
 * while closing; one that exits at all before this, with code 0, did what SIGTERM asks.
 */
const HANG_MS = 90_000;
const PER_TASK = 10_000;
const ITEMS = 2 * PER_TASK;
const TOKEN_LIMITS = JSON.stringify({ 'gpt-4o-mini': 20_000_000 }); // one batch per task, never held by the budget
const SLOW_MS = 800;

let h: TestHarness;
let group: ProcessGroup;

beforeAll(async () => {
  h = await startHarness({
    scenario: { extends: 'happy', name: 'slow-control-plane', httpFaults: { slowRate: 1, slowMs: SLOW_MS } },
    registry: countingRegistry,
    roles: false,
    env: { TOKEN_LIMITS },
  });
  await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
  group = new ProcessGroup(
    workerEnv(
      { databaseUrl: h.database.url, redisUrl: REDIS_URL, prefix: h.prefix, simulatorUrl: h.sim.url, dataDir: h.config.dataDir },
      { SHUTDOWN_TIMEOUT_MS: String(BOUND_MS), TOKEN_LIMITS },
    ),
  );
});

afterAll(async () => {
  await group?.stopAll();
  await h?.close();
});

interface Stopped {
  exit: { code: number | null; signal: string | null };
  /** For the report only. */
  ms: number;
  /** True if the process was still running HANG_MS after SIGTERM and the test killed it. */
  timedOut: boolean;
  signalledAt: number;
  /** The jobs that were active in the stage's queue when SIGTERM was sent. */
  activeAtSignal: Job[];
  /** Whether the process hit SHUTDOWN_TIMEOUT_MS and handed jobs back (else it finished them): for the report. */
  handedBack: boolean;
}

/**
 * Starts one worker of `role` that takes one job at a time, and waits until it has logged
 * "workers started": runWorkers installs its SIGTERM handler in the same tick, right after.
 */
async function startOne(role: Role): Promise<WorkerProcess> {
  const proc = group.start(role, { [`CONCURRENCY_${role.toUpperCase()}`]: '1', LOG_LEVEL: 'info' });
  await proc.waitForOutput(/"msg":"workers started"/, 60_000);
  return proc;
}

/** Waits until `busy()` holds, then sends SIGTERM and waits for the exit. */
async function sigtermWhen(proc: WorkerProcess, queue: Queue, what: string, busy: () => Promise<boolean>): Promise<Stopped> {
  await waitFor(what, busy, 90_000, 10);
  const activeAtSignal = await queue.getActive();
  const signalledAt = Date.now();
  const r = await proc.terminate(HANG_MS);
  return { ...r, signalledAt, activeAtSignal, handedBack: /"msg":"shutdown bound reached/.test(proc.output()) };
}

/**
 * What a clean stop leaves behind, checked right after the exit and before any other process of the
 * role starts: the process ended itself with code 0 (not SIGKILLed by the test after HANG_MS), and
 * nothing is still held by it: no job of its stage is active (a job the dead process still held
 * would wait for BullMQ's stalled-job check) and no batch is leased (another worker would wait out
 * the lease). Soft assertions: the test still drives the work to the end with another process, so
 * the next stage starts from the state it expects.
 */
async function expectCleanStop(s: Stopped, queue: Queue): Promise<void> {
  expect.soft(s.timedOut, `still running ${HANG_MS} ms after SIGTERM (SIGKILLed by the test)`).toBe(false);
  expect.soft(s.exit, 'exit code 0, not killed by a signal').toMatchObject({ code: 0, signal: null });
  expect.soft(await queue.getActiveCount(), 'jobs of the stage still active after the exit').toBe(0);
  for (const job of s.activeAtSignal) {
    expect.soft(['completed', 'waiting', 'delayed', 'prioritized'], `state of job ${job.id} after the exit`).toContain(await queue.getJobState(job.id!));
  }
  const [leased] = await query<{ n: number }>(h.ctx.db, 'select count(*)::int as n from batches where processing_owner is not null');
  expect.soft(leased!.n, 'batches still leased after the exit').toBe(0);
}

function note(stage: string, s: Stopped): void {
  timings.push(`${stage}: exit ${s.exit.code} after ${s.ms} ms${s.handedBack ? ', jobs handed back at the bound' : ', jobs finished'}`);
}

async function failedJobs(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const role of ROLES) out[role] = await h.ctx.queues.byRole[role].getFailedCount();
  return out;
}
const NONE_FAILED = Object.fromEntries(ROLES.map((r) => [r, 0]));

const timings: string[] = [];

describe('SIGTERM in the middle of each stage', () => {
  it('intake: SIGTERM during a 10,000-item job exits 0 by itself; the job is finished, never failed; another process takes the rest', async () => {
    onTestFailed(async () => console.error(`${await describeState(h.ctx.db, h.ctx.queues)}\n${group.report()}`));
    const a = await startOne('intake');
    await enqueueItems(h.ctx.queues, sampleItems('sd', ITEMS), PER_TASK);
    const s = await sigtermWhen(a, h.ctx.queues.intake, 'an intake job active', async () => (await h.ctx.queues.intake.getActiveCount()) > 0);
    note('intake', s);
    await expectCleanStop(s, h.ctx.queues.intake);
    expect(s.activeAtSignal).toHaveLength(1);
    const [atSignal] = s.activeAtSignal;

    await startOne('intake');
    await waitFor('both intake jobs completed', async () => (await h.ctx.queues.intake.getCompletedCount()) === 2);
    const [stored] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from items where status = 'queued'`);
    expect(stored!.n).toBe(ITEMS);
    // The signal came in the middle of that job: started before it, finished after it (drained by
    // the stopping process, or handed back and run again, idempotently, by the next one).
    const held = await h.ctx.queues.intake.getJob(atSignal!.id!);
    expect(atSignal!.processedOn).toBeLessThanOrEqual(s.signalledAt);
    expect(held!.finishedOn).toBeGreaterThanOrEqual(s.signalledAt);
    expect(held!.returnvalue.accepted + held!.returnvalue.duplicates).toBe(PER_TASK);
    expect(await failedJobs()).toEqual(NONE_FAILED);
  }, 300_000);

  it('build: a build interrupted by SIGTERM exits 0 by itself; the batches are then built once', async () => {
    onTestFailed(async () => console.error(`${await describeState(h.ctx.db, h.ctx.queues)}\n${group.report()}`));
    const a = await startOne('build');
    const s = await sigtermWhen(a, h.ctx.queues.build, 'a batch being built', async () => {
      const [r] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from batches where status = 'building'`);
      return r!.n > 0;
    });
    note('build', s);
    await expectCleanStop(s, h.ctx.queues.build);
    expect(s.activeAtSignal.length).toBeGreaterThanOrEqual(1);

    await startOne('build');
    await waitFor('both batches built', async () => {
      const [r] = await query<{ built: number; other: number; queued: number }>(
        h.ctx.db,
        `select count(*) filter (where status = 'built')::int as built, count(*) filter (where status <> 'built')::int as other,
                (select count(*)::int from items where status = 'queued') as queued from batches`,
      );
      return r!.built === 2 && r!.other === 0 && r!.queued === 0;
    });
    const batches = await query<{ request_count: number; items: number }>(
      h.ctx.db,
      `select b.request_count, (select count(*)::int from items i where i.batch_id = b.id and i.status = 'batched') as items from batches b`,
    );
    expect(batches).toEqual([
      { request_count: PER_TASK, items: PER_TASK },
      { request_count: PER_TASK, items: PER_TASK },
    ]);
    expect(await failedJobs()).toEqual(NONE_FAILED);
  }, 300_000);

  it('submit: SIGTERM during a slow upload/create exits 0 by itself; each batch is created exactly once', async () => {
    onTestFailed(async () => console.error(`${await describeState(h.ctx.db, h.ctx.queues)}\n${group.report()}`));
    const a = await startOne('submit');
    const s = await sigtermWhen(a, h.ctx.queues.submit, 'a batch submitting', async () => {
      const [r] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from batches where status = 'submitting'`);
      return r!.n > 0;
    });
    note('submit', s);
    await expectCleanStop(s, h.ctx.queues.submit);
    expect(s.activeAtSignal).toHaveLength(1);

    await startOne('submit');
    await waitFor(
      'both batches at the provider',
      async () => {
        const [r] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from batches where provider_batch_id is not null and status <> 'submitting'`);
        return r!.n === 2;
      },
      90_000,
    );
    const seen = Object.values(h.sim.stats().clients)[0]!;
    expect(seen.batchesCreated).toBe(2);
    expect(Object.values(seen.batchesByMetadata.batchfleet_batch_id ?? {}).map((v) => v.count)).toEqual([1, 1]);
    expect(seen.duplicateInputFiles).toEqual([]);
    expect(await failedJobs()).toEqual(NONE_FAILED);
  }, 300_000);

  it('poll: SIGTERM during a slow status call exits 0 by itself; another process polls to the end', async () => {
    onTestFailed(async () => console.error(`${await describeState(h.ctx.db, h.ctx.queues)}\n${group.report()}`));
    const a = await startOne('poll');
    const s = await sigtermWhen(a, h.ctx.queues.poll, 'a poll job active', async () => (await h.ctx.queues.poll.getActiveCount()) > 0);
    note('poll', s);
    await expectCleanStop(s, h.ctx.queues.poll);
    expect(s.activeAtSignal).toHaveLength(1);
    // The interrupted poll run finished and parked its loop again (delayed), it did not fail.
    const loop = await h.ctx.queues.poll.getJob(s.activeAtSignal[0]!.id!);
    expect(['delayed', 'waiting', 'completed']).toContain(await loop!.getState());

    await startOne('poll');
    await waitFor(
      'both batches completed at the provider and recorded',
      async () => {
        const [r] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from batches where status = 'completed' and output_file_id is not null`);
        return r!.n === 2;
      },
      120_000,
    );
    expect(await failedJobs()).toEqual(NONE_FAILED);
  }, 300_000);

  it('process: SIGTERM while a result file is being processed exits 0 by itself; every item ends exactly once', async () => {
    onTestFailed(async () => console.error(`${await describeState(h.ctx.db, h.ctx.queues)}\n${group.report()}`));
    const a = await startOne('process');
    const s = await sigtermWhen(a, h.ctx.queues.process, 'a result file half processed', async () => {
      const [r] = await query<{ n: number }>(h.ctx.db, 'select count(*)::int as n from attempts');
      return r!.n > 0;
    });
    note('process', s);
    await expectCleanStop(s, h.ctx.queues.process);
    expect(s.activeAtSignal.length).toBeGreaterThanOrEqual(1);

    // Handed back, not left to a stalled-job check or a lease to expire: another process finishes
    // the work (the job lock and the processing lease are not waited out).
    await startOne('process');
    await waitFor(
      'every item final and both batches processed',
      async () => {
        const [r] = await query<{ final: number; open: number }>(
          h.ctx.db,
          `select (select count(*)::int from items where status in ('succeeded', 'failed')) as final, (select count(*)::int from batches where status <> 'processed') as open`,
        );
        return r!.final === ITEMS && r!.open === 0;
      },
      240_000, // generous: two 10,000-line files on a loaded 2-core machine
    );
    await h.sim.idle();
    const inv = await checkInvariants(h.ctx.db, h.sim);
    expect(violations(inv, ITEMS)).toEqual([]);
    expect(inv).toMatchObject({ succeeded: ITEMS, attempts: ITEMS, providerBatches: 2, succeededMoreThanOnce: 0 });
    expect(await failedJobs()).toEqual(NONE_FAILED);
    expect(group.crashed()).toEqual([]);
    console.log(`shutdown: ${timings.join('; ')}`);
  }, 480_000);
});
