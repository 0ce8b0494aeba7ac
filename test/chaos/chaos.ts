/*
 * The chaos run: real worker processes (several per role) work through thousands of items against
 * the simulator while a seeded loop SIGKILLs random workers at random moments and restarts them,
 * the fleet's Redis keys are deleted once mid-run (our model of losing Redis), and, in the long
 * run (`npm run chaos`), PostgreSQL is restarted once. Afterwards the invariants are checked from
 * PostgreSQL and from what the simulator saw. Shared by test/chaos/chaos.test.ts (a short run in
 * the normal suite) and test/chaos/run.ts (the long run).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { Db } from '../../src/store/db.ts';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { jobIds, ROLES, type Role } from '../../src/queues/names.ts';
import type { PipelineQueues } from '../../src/queues/queues.ts';
import type { ScenarioInput, SimulatorHandle } from 'openai-batch-simulator';
import { META_BATCH_ID, META_SUBMISSION } from '../../src/pipeline/submit.ts';
import countingRegistry, { HOOK_TABLE_SQL } from '../fixtures/counting-tasks.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { deletePrefix, REDIS_URL } from '../support/redis.ts';
import { ProcessGroup, waitForWorkers, workerEnv, type WorkerProcess } from '../support/processes.ts';

/**
 * `flaky` (429/500/503, slow answers, objects briefly invisible after creation, stuck batches,
 * 500 result lines) plus lost create responses (the object is created, the answer never arrives),
 * the fault that tempts a client into a double submission. The content faults of `flaky` (invalid
 * JSON, truncation) are left out on purpose: they come back as HTTP 200 lines that our validator
 * rejects and retries by design, so the simulator would count those items as "succeeded more than
 * once" although nothing was submitted twice; without them that counter measures duplicates only.
 */
export const CHAOS_SCENARIO: ScenarioInput = {
  extends: 'flaky',
  name: 'chaos',
  description: 'flaky + lost create responses, without the 200-status content faults',
  lineFaults: { http500: 0.01, invalidJson: 0, truncated: 0 },
  httpFaults: { lostCreateRate: 0.03, lostCreateMode: 'reset' },
};

/** A small seeded PRNG (mulberry32): the same seed gives the same kills, targets and gaps. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Item = ReturnType<typeof sampleItems>[number];

/** Enqueues items through the `intake` queue as bulk jobs of `chunk` items (one task per job). */
export async function enqueueItems(queues: PipelineQueues, items: readonly Item[], chunk = 500): Promise<number> {
  const jobs: Array<{ name: string; data: { task: string; items: Array<{ externalId: string; input: unknown }> } }> = [];
  for (const task of [...new Set(items.map((i) => i.task))]) {
    const mine = items.filter((i) => i.task === task).map(({ externalId, input }) => ({ externalId, input }));
    for (let i = 0; i < mine.length; i += chunk) jobs.push({ name: 'intake', data: { task, items: mine.slice(i, i + chunk) } });
  }
  await queues.intake.addBulk(jobs);
  return jobs.length;
}

export interface Progress {
  items: number;
  final: number;
  succeeded: number;
  failed: number;
  openBatches: number;
}

export async function progress(db: Db): Promise<Progress> {
  const [r] = await query<Progress>(
    db,
    `select count(*)::int as items,
            count(*) filter (where status in ('succeeded', 'failed'))::int as final,
            count(*) filter (where status = 'succeeded')::int as succeeded,
            count(*) filter (where status = 'failed')::int as failed,
            (select count(*)::int from batches where status <> 'processed') as "openBatches"
       from items`,
  );
  return r!;
}

/** A readable picture of where the work is (for failure reports): batches and items by status, leases, queues. */
export async function describeState(db: Db, queues?: PipelineQueues): Promise<string> {
  const batches = await query<{ status: string; n: number; leased: number; no_output: number; oldest_s: number }>(
    db,
    `select status, count(*)::int as n, count(*) filter (where processing_lease_until > now())::int as leased,
            count(*) filter (where status = 'completed' and output_file_id is null)::int as no_output,
            coalesce(max(extract(epoch from now() - status_changed_at)), 0)::int as oldest_s
       from batches group by status order by status`,
  );
  const items = await query<{ status: string; n: number }>(db, 'select status, count(*)::int as n from items group by status order by status');
  const lines = [
    `batches: ${batches.map((b) => `${b.status} ${b.n} (leased ${b.leased}${b.no_output ? `, ${b.no_output} without output file` : ''}, oldest ${b.oldest_s}s in status)`).join('; ') || 'none'}`,
    `items: ${items.map((i) => `${i.status} ${i.n}`).join(', ') || 'none'}`,
  ];
  if (queues) {
    for (const [role, q] of Object.entries(queues.byRole)) {
      const c = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed').catch(() => ({}));
      lines.push(`queue ${role}: ${JSON.stringify(c)}`);
    }
    // The job each unfinished batch needs, and the state it is in.
    const open = await query<{ id: string; status: string; submission: number }>(
      db,
      `select id::text as id, status, submission from batches where status <> 'processed' order by status_changed_at limit 10`,
    );
    for (const b of open) {
      const [queue, jobId] =
        b.status === 'built' || b.status === 'submitting'
          ? [queues.submit, jobIds.submit(b.id, b.submission)]
          : ['validating', 'in_progress', 'finalizing', 'cancelling'].includes(b.status)
            ? [queues.poll, jobIds.poll(b.id, b.submission)]
            : [queues.process, jobIds.process(b.id)];
      const job = await queue.getJob(jobId).catch(() => undefined);
      const state = job ? await job.getState().catch((e: unknown) => `error ${String(e)}`) : 'no job';
      lines.push(
        `batch ${b.id} ${b.status}: ${jobId} ${state}` +
          (job ? ` (name ${job.name || '-'}, data ${JSON.stringify(job.data)}, processedOn ${job.processedOn ?? '-'}, finishedOn ${job.finishedOn ?? '-'}, failed ${job.failedReason ?? '-'})` : ''),
      );
    }
    // Tasks with queued items need a build: where is their deduplicated build trigger?
    const waiting = await query<{ task: string; n: number }>(db, `select task, count(*)::int as n from items where status = 'queued' group by task`);
    for (const t of waiting) {
      const dedupId = jobIds.build(t.task);
      const holder = await queues.build.getDeduplicationJobId(dedupId).catch(() => null);
      const job = holder ? await queues.build.getJob(holder).catch(() => undefined) : undefined;
      const state = job ? await job.getState().catch(() => '?') : 'no job';
      lines.push(`task ${t.task}: ${t.n} queued items; build dedup key ${dedupId} -> ${holder ?? 'none'} (${state})`);
    }
  }
  return lines.join('\n');
}

/** Deletes every Redis key of a fleet (SCAN + DEL on `<prefix>:*`, never FLUSHALL) and counts them. */
export async function deleteFleetKeys(prefix: string, redisUrl = REDIS_URL): Promise<number> {
  if (!prefix || prefix === 'batchfleet') throw new Error('refusing to delete the keys of the default prefix');
  return deletePrefix(prefix, redisUrl);
}

/** What PostgreSQL and the simulator say about exactly-once effects. Every count named like a fault must be 0. */
export interface Invariants {
  items: number;
  succeeded: number;
  failed: number;
  pending: number;
  attempts: number;
  batches: number;
  openBatches: number;
  /** Succeeded items without a stored output. */
  succeededWithoutOutput: number;
  /** Succeeded items whose number of 'succeeded' attempt rows is not exactly 1. */
  succeededAttemptsNotOne: number;
  /** Items not succeeded that nevertheless have a 'succeeded' attempt. */
  successAttemptOnUnsucceeded: number;
  /** Succeeded items whose onResult hook rows are not exactly 1. */
  resultHooksNotOne: number;
  /** Items failed by result processing whose onFailure hook rows are not exactly 1. */
  failureHooksNotOne: number;
  /** Hook rows of the wrong kind for their item's final status. */
  misplacedHooks: number;
  /** Items whose cost or tokens differ from the sum of their attempts'. */
  costMismatches: number;
  /** Attempts whose item or batch row does not exist, items in a batch that does not exist, items without their input and inputs without their item (no foreign keys enforce these). */
  danglingReferences: number;
  /** Exact decimal sums (as text): items, attempts and processed batches must agree. */
  costUsd: { items: string; attempts: string; batches: string };
  /** Provider batches created, as the simulator counted them. */
  providerBatches: number;
  /** (our batch id, submission) pairs for which the simulator created more than one batch. */
  duplicateSubmissions: number;
  /** Our batch ids with more than one provider batch over all submissions (token-limit resubmissions are legitimate). */
  batchIdsWithSeveralProviderBatches: number;
  /** Provider batches carrying a batch id that no row of ours has. */
  unknownProviderBatches: number;
  duplicateInputFiles: string[];
  succeededMoreThanOnce: number;
  /** Request lines the simulator received in more than one batch (retries and requeues; informative). */
  resubmittedCustomIds: number;
  filesCreated: number;
  filesDeleted: number;
  /** Attempt rows by outcome and error code (informative), e.g. {"succeeded": 3000, "retry:server_error": 30}. */
  attemptOutcomes: Record<string, number>;
}

export async function checkInvariants(db: Db, sim: SimulatorHandle): Promise<Invariants> {
  const [r] = await query<Omit<Invariants, 'costUsd' | 'providerBatches' | 'duplicateSubmissions' | 'batchIdsWithSeveralProviderBatches' | 'unknownProviderBatches' | 'duplicateInputFiles' | 'succeededMoreThanOnce' | 'resubmittedCustomIds' | 'filesCreated' | 'filesDeleted'> & { items_cost: string; attempts_cost: string; batches_cost: string }>(
    db,
    `select
       (select count(*)::int from items) as items,
       (select count(*)::int from items where status = 'succeeded') as succeeded,
       (select count(*)::int from items where status = 'failed') as failed,
       (select count(*)::int from items where status not in ('succeeded', 'failed', 'cancelled')) as pending,
       (select count(*)::int from attempts) as attempts,
       (select count(*)::int from batches) as batches,
       (select count(*)::int from batches where status <> 'processed') as "openBatches",
       (select count(*)::int from items where status = 'succeeded' and output is null) as "succeededWithoutOutput",
       (select count(*)::int from items i where i.status = 'succeeded'
           and (select count(*) from attempts a where a.item_id = i.id and a.outcome = 'succeeded') <> 1) as "succeededAttemptsNotOne",
       (select count(*)::int from items i where i.status <> 'succeeded'
           and exists (select 1 from attempts a where a.item_id = i.id and a.outcome = 'succeeded')) as "successAttemptOnUnsucceeded",
       (select count(*)::int from items i where i.status = 'succeeded'
           and (select count(*) from hook_calls h where h.item_id = i.id and h.kind = 'result') <> 1) as "resultHooksNotOne",
       (select count(*)::int from items i where i.status = 'failed' and exists (select 1 from attempts a where a.item_id = i.id)
           and (select count(*) from hook_calls h where h.item_id = i.id and h.kind = 'failure') <> 1) as "failureHooksNotOne",
       (select count(*)::int from hook_calls h join items i on i.id = h.item_id
          where (h.kind = 'result' and i.status <> 'succeeded') or (h.kind = 'failure' and i.status <> 'failed')) as "misplacedHooks",
       (select count(*)::int from items i left join lateral (
            select coalesce(sum(cost_usd), 0) as cost, coalesce(sum(input_tokens), 0) as it, coalesce(sum(output_tokens), 0) as ot
              from attempts a where a.item_id = i.id) s on true
          where i.cost_usd <> s.cost or i.input_tokens <> s.it or i.output_tokens <> s.ot) as "costMismatches",
       (select count(*)::int from attempts a where not exists (select 1 from items i where i.id = a.item_id))
         + (select count(*)::int from attempts a where not exists (select 1 from batches b where b.id = a.batch_id))
         + (select count(*)::int from items i where i.batch_id is not null and not exists (select 1 from batches b where b.id = i.batch_id))
         + (select count(*)::int from items i where not exists (select 1 from item_inputs n where n.item_id = i.id))
         + (select count(*)::int from item_inputs n where not exists (select 1 from items i where i.id = n.item_id))
         as "danglingReferences",
       (select coalesce(sum(cost_usd), 0)::text from items) as items_cost,
       (select coalesce(sum(cost_usd), 0)::text from attempts) as attempts_cost,
       (select coalesce(sum(cost_usd), 0)::text from batches) as batches_cost`,
  );
  const row = r!;
  const ourIds = new Set((await query<{ id: string }>(db, 'select id::text as id from batches')).map((b) => b.id));

  const clients = Object.values(sim.stats().clients);
  const submissionOf = new Map<string, string>();
  const providerByOurId = new Map<string, string[]>();
  for (const c of clients) {
    for (const [value, { batchIds }] of Object.entries(c.batchesByMetadata[META_SUBMISSION] ?? {})) for (const id of batchIds) submissionOf.set(id, value);
    for (const [ours, { batchIds }] of Object.entries(c.batchesByMetadata[META_BATCH_ID] ?? {})) {
      providerByOurId.set(ours, [...(providerByOurId.get(ours) ?? []), ...batchIds]);
    }
  }
  let duplicateSubmissions = 0;
  let several = 0;
  let unknown = 0;
  for (const [ours, providerIds] of providerByOurId) {
    if (!ourIds.has(ours)) unknown += providerIds.length;
    if (providerIds.length > 1) several++;
    const perSubmission = new Map<string, number>();
    for (const id of providerIds) {
      const s = submissionOf.get(id) ?? '?';
      perSubmission.set(s, (perSubmission.get(s) ?? 0) + 1);
    }
    for (const n of perSubmission.values()) if (n > 1) duplicateSubmissions++;
  }

  const outcomes = await query<{ k: string; n: number }>(
    db,
    `select outcome || coalesce(':' || error_code, '') as k, count(*)::int as n from attempts group by 1 order by 2 desc`,
  );
  const { items_cost, attempts_cost, batches_cost, ...counts } = row;
  return {
    ...counts,
    costUsd: { items: items_cost, attempts: attempts_cost, batches: batches_cost },
    providerBatches: clients.reduce((a, c) => a + c.batchesCreated, 0),
    duplicateSubmissions,
    batchIdsWithSeveralProviderBatches: several,
    unknownProviderBatches: unknown,
    duplicateInputFiles: clients.flatMap((c) => c.duplicateInputFiles),
    succeededMoreThanOnce: clients.reduce((a, c) => a + c.customIds.succeededMoreThanOnce, 0),
    resubmittedCustomIds: clients.reduce((a, c) => a + c.customIds.resubmitted, 0),
    filesCreated: clients.reduce((a, c) => a + c.filesCreated, 0),
    filesDeleted: clients.reduce((a, c) => a + c.filesDeleted, 0),
    attemptOutcomes: Object.fromEntries(outcomes.map((o) => [o.k, o.n])),
  };
}

/** The broken invariants, in words (empty when all hold). */
export function violations(inv: Invariants, expectedItems: number): string[] {
  const out: string[] = [];
  if (inv.items !== expectedItems) out.push(`${inv.items} items stored, expected ${expectedItems}`);
  if (inv.pending !== 0) out.push(`${inv.pending} items not final`);
  if (inv.openBatches !== 0) out.push(`${inv.openBatches} batches not processed`);
  const zero: Array<keyof Invariants> = [
    'succeededWithoutOutput', 'succeededAttemptsNotOne', 'successAttemptOnUnsucceeded', 'resultHooksNotOne', 'failureHooksNotOne',
    'misplacedHooks', 'costMismatches', 'danglingReferences', 'duplicateSubmissions', 'unknownProviderBatches', 'succeededMoreThanOnce',
  ];
  for (const k of zero) if (inv[k] !== 0) out.push(`${k} = ${String(inv[k])}`);
  if (inv.duplicateInputFiles.length > 0) out.push(`duplicateInputFiles = ${inv.duplicateInputFiles.join(', ')}`);
  if (inv.costUsd.items !== inv.costUsd.attempts || inv.costUsd.items !== inv.costUsd.batches) {
    out.push(`cost differs: items ${inv.costUsd.items}, attempts ${inv.costUsd.attempts}, batches ${inv.costUsd.batches}`);
  }
  return out;
}

/** How to restart PostgreSQL here, or why we cannot. */
export function postgresRestartCommand(): { cmd: string; args: string[] } | { skipped: string } {
  if (process.getuid?.() !== 0) return { skipped: 'not running as root' };
  const bin = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'pg_ctlcluster')).find((p) => existsSync(p));
  if (!bin) return { skipped: 'pg_ctlcluster is not installed (not a Debian-packaged PostgreSQL)' };
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
  if (versions.length !== 1) return { skipped: `expected one cluster version in /etc/postgresql, found ${versions.length}` };
  return { cmd: bin, args: ['--skip-systemctl-redirect', versions[0]!, 'main', 'restart'] };
}

export interface ChaosOptions {
  items: number;
  kills: number;
  seed: number;
  /** Worker processes per role. @defaultValue 2 */
  perRole?: number;
  scenario?: string | ScenarioInput;
  /** Delete the fleet's Redis keys once, half way through the kills. @defaultValue true */
  redisLoss?: boolean;
  /** Restart PostgreSQL once, three quarters through the kills (if root and pg_ctlcluster exist). @defaultValue false */
  pgRestart?: boolean;
  /** Random pause before each kill, ms. @defaultValue [500, 2500] */
  killGapMs?: [number, number];
  /** Items are enqueued in this many waves spread over the kills, so every stage is busy while they happen. @defaultValue 6 */
  waves?: number;
  /** How long to wait for every item to be final after the last kill. @defaultValue 240000 */
  drainTimeoutMs?: number;
  /** Extra worker environment. */
  env?: Record<string, string>;
  /** Receives a line per event as it happens. */
  log?: (line: string) => void;
  /** Stops the kills and the wait early (Ctrl-C in the long run); the world is still checked and torn down. */
  signal?: AbortSignal;
  /** Called with the private world after the checks, before it is torn down (to dig into a failure). */
  inspect?: (h: TestHarness) => Promise<void>;
}

export interface KillEvent {
  atMs: number;
  role: Role;
  name: string;
  pid: number;
  /** Jobs active in that role's queue when it was killed (the victim may hold some of them). */
  activeInQueue: number;
}

export interface ChaosFigures {
  items: number;
  seed: number;
  perRole: number;
  processesStarted: number;
  readyMs: number;
  /** From the first enqueue to every item final and every batch processed. */
  workMs: number;
  /** From the last kill to every item final. */
  drainAfterLastKillMs: number;
  totalMs: number;
  kills: KillEvent[];
  redisLoss: { atMs: number; keysDeleted: number; resentItems: number } | null;
  pgRestart: { atMs: number; ms: number } | { skipped: string } | null;
  /** Exits nobody asked for (restarted by the supervisor, as Kubernetes would). */
  crashes: Array<{ atMs: number; name: string; code: number | null; signal: string | null; booting: boolean; duringPgRestart: boolean }>;
  invariants: Invariants;
  violations: string[];
  /** Where the work stood when the wait ended (batches, items, queues). */
  stateAtEnd: string;
  /** Outputs of every worker process (for a failure report). */
  processReport: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one chaos experiment in a private world and returns what happened and what was checked. */
export async function runChaos(options: ChaosOptions): Promise<ChaosFigures> {
  const perRole = options.perRole ?? 2;
  const [gapMin, gapMax] = options.killGapMs ?? [500, 2500];
  const waves = Math.max(1, options.waves ?? 6);
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed);
  const t0 = Date.now();
  const at = () => Date.now() - t0;

  let h: TestHarness | undefined;
  let group: ProcessGroup | undefined;
  let supervisor: NodeJS.Timeout | undefined;
  try {
    h = await startHarness({ scenario: options.scenario ?? CHAOS_SCENARIO, seed: options.seed, registry: countingRegistry, roles: false });
    await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
    const harness = h;
    const g = (group = new ProcessGroup(
      workerEnv(
        { databaseUrl: h.database.url, redisUrl: REDIS_URL, prefix: h.prefix, simulatorUrl: h.sim.url, dataDir: h.config.dataDir },
        { CONCURRENCY_POLL: '8', ...options.env },
      ),
    ));
    g.startEach(ROLES, perRole);
    await waitForWorkers(h.ctx.queues, Object.fromEntries(ROLES.map((r) => [r, perRole])), 120_000);
    const readyMs = at();
    log(`${fmt(readyMs)} ${ROLES.length * perRole} worker processes ready (prefix ${h.prefix}, schema ${h.database.schema}, simulator ${h.sim.url})`);

    // A crashed worker is restarted, as Kubernetes would, and reported.
    const crashes: ChaosFigures['crashes'] = [];
    const seen = new Set<WorkerProcess>();
    let pgWindow: { from: number; to: number } | undefined;
    supervisor = setInterval(() => {
      for (const p of g.crashed()) {
        if (seen.has(p)) continue;
        seen.add(p);
        const exitAt = p.exitInfo?.at ?? Date.now();
        // A process that was still starting (under 15 s old) when PostgreSQL went away fails its boot
        // (exit 1: fail fast, the orchestrator restarts it). A running worker must never exit.
        const duringPgRestart = pgWindow !== undefined && exitAt >= pgWindow.from && exitAt <= pgWindow.to + 10_000;
        const booting = p.startedAt > (pgWindow?.from ?? exitAt) - 15_000;
        crashes.push({ atMs: at(), name: p.name, code: p.exitInfo?.code ?? null, signal: p.exitInfo?.signal ?? null, booting, duringPgRestart });
        log(`${fmt(at())} EXIT nobody asked for: ${p.name} (code ${p.exitInfo?.code}, signal ${p.exitInfo?.signal}${duringPgRestart && booting ? ', its boot failed while PostgreSQL restarted' : ''}); restarting it`);
        g.start(p.role);
      }
    }, 200);

    const items = sampleItems(`chaos${options.seed}`, options.items);
    const waveOf = (w: number) => items.filter((_, i) => Math.floor((i * waves) / items.length) === w);
    const waveAtKill = (w: number) => Math.floor((w * options.kills) / waves);
    const redisLossAtKill = options.redisLoss === false ? -1 : Math.floor(options.kills / 2);
    const pgAtKill = options.pgRestart ? Math.floor((3 * options.kills) / 4) : -1;
    let sentWaves = 0;
    const workStart = Date.now();

    const kills: KillEvent[] = [];
    let redisLoss: ChaosFigures['redisLoss'] = null;
    let pgRestart: ChaosFigures['pgRestart'] = null;
    for (let k = 0; k <= options.kills; k++) {
      while (sentWaves < waves && waveAtKill(sentWaves) <= k) {
        const wave = waveOf(sentWaves);
        const jobs = await enqueueItems(harness.ctx.queues, wave);
        log(`${fmt(at())} wave ${sentWaves + 1}/${waves}: ${wave.length} items in ${jobs} intake jobs`);
        sentWaves++;
      }
      if (k === redisLossAtKill) {
        const keysDeleted = await deleteFleetKeys(harness.prefix);
        // The intake jobs that were still in Redis are gone with it: the producer re-sends what it
        // sent (intake is idempotent on (task, external id), so stored items count as duplicates).
        const resent = items.filter((_, i) => Math.floor((i * waves) / items.length) < sentWaves);
        await enqueueItems(harness.ctx.queues, resent);
        redisLoss = { atMs: at(), keysDeleted, resentItems: resent.length };
        log(`${fmt(at())} REDIS LOSS: deleted ${keysDeleted} keys under ${harness.prefix}:*; producer re-sent ${resent.length} items`);
      }
      if (k === pgAtKill) {
        const how = postgresRestartCommand();
        if ('skipped' in how) {
          pgRestart = how;
          log(`${fmt(at())} PostgreSQL restart skipped: ${how.skipped}`);
        } else {
          const started = Date.now();
          pgWindow = { from: started, to: Number.MAX_SAFE_INTEGER };
          await promisify(execFile)(how.cmd, how.args, { timeout: 60_000 });
          pgWindow.to = Date.now();
          pgRestart = { atMs: at(), ms: Date.now() - started };
          log(`${fmt(at())} POSTGRESQL RESTARTED (${how.cmd} ${how.args.join(' ')}) in ${pgRestart.ms} ms`);
        }
      }
      if (k === options.kills || options.signal?.aborted) break;
      await sleep(gapMin + random() * (gapMax - gapMin));
      const live = g.live();
      if (live.length === 0) continue;
      const victim = live[Math.floor(random() * live.length)]!;
      const activeInQueue = await harness.ctx.queues.byRole[victim.role].getActiveCount().catch(() => -1);
      await victim.kill('SIGKILL');
      kills.push({ atMs: at(), role: victim.role, name: victim.name, pid: victim.pid, activeInQueue });
      const replacement = g.start(victim.role);
      log(`${fmt(at())} kill ${kills.length}/${options.kills}: SIGKILL ${victim.name} (pid ${victim.pid}, ${activeInQueue} active ${victim.role} jobs); restarted as ${replacement.name}`);
    }
    const lastKillAt = Date.now();

    const drainTimeout = options.drainTimeoutMs ?? 240_000;
    let last = await progress(harness.ctx.db);
    let lastLog = Date.now();
    while (!(last.final === options.items && last.items === options.items && last.openBatches === 0)) {
      if (Date.now() - lastKillAt > drainTimeout || options.signal?.aborted) break;
      await sleep(500);
      // Tolerates the moment PostgreSQL restarts (the long run): the next read goes through.
      last = await progress(harness.ctx.db).catch(() => last);
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        log(`${fmt(at())} progress: ${last.final}/${options.items} final (${last.items} stored), ${last.openBatches} open batches`);
      }
    }
    const workMs = Date.now() - workStart;
    const drainAfterLastKillMs = Date.now() - lastKillAt;
    log(`${fmt(at())} ${last.final}/${options.items} items final, ${last.openBatches} open batches, ${fmt(drainAfterLastKillMs)} after the last kill`);

    const stateAtEnd = await describeState(harness.ctx.db, harness.ctx.queues).catch((err: unknown) => String(err));
    if (last.final !== options.items || last.openBatches !== 0) log(`${fmt(at())} NOT DONE:\n${stateAtEnd}`);
    clearInterval(supervisor);
    supervisor = undefined;
    const processReport = g.report();
    const processesStarted = g.history.length;
    await g.stopAll();
    await harness.sim.idle();
    const invariants = await checkInvariants(harness.ctx.db, harness.sim);
    await options.inspect?.(harness);
    return {
      items: options.items,
      seed: options.seed,
      perRole,
      processesStarted,
      readyMs,
      workMs,
      drainAfterLastKillMs,
      totalMs: at(),
      kills,
      redisLoss,
      pgRestart,
      crashes,
      invariants,
      violations: [
        ...violations(invariants, options.items),
        ...crashes.filter((c) => !(c.booting && c.duringPgRestart)).map((c) => `worker ${c.name} exited by itself (code ${c.code}, signal ${c.signal})`),
      ],
      stateAtEnd,
      processReport,
    };
  } finally {
    if (supervisor) clearInterval(supervisor);
    await group?.stopAll();
    await h?.close();
  }
}

export function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
