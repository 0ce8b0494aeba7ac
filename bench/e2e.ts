/**
 * End-to-end runs: the fleet (P processes against the simulator), the naive reference (against
 * its fake API) and the floor, each measured the same way so each fleet figure can be read as a
 * ratio to the two references taken minutes apart on the same machine.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { childNodeBinary, spawnChild, VAR } from './lib/children.ts';
import { CpuTracker, cpuSeconds, postgresBackends, postgresProcesses, rssMb } from './lib/proc.ts';
import { checkpoint, databaseUrl, type BenchWebhook, settledDatabaseCounters, migrate, recreateDatabase, type BenchRedis, type BenchSimulator } from './lib/services.ts';
import { enqueueIntake, ProgressReader, type BatchTimeline, probeDir, startFleetProcess, type FleetProcess, type FleetWorld, type ProbeSnapshot } from './fleet.ts';

/** One measured run of one kind. Figures that do not apply are null. */
export interface RunResult {
  kind: 'reference' | 'fleet' | 'floor';
  run: number;
  items: number;
  ok: boolean;
  seconds: number;
  itemsPerSecond: number;
  /** CPU seconds over the timed window (reference and floor: their whole process, set-up included). */
  cpuSeconds: { process: number; postgres: number; postgresCluster: number; redis: number | null; provider: number | null };
  /** The same, per 10,000 items. */
  cpuPer10k: { process: number; postgres: number; processPlusPostgres: number; redis: number | null; provider: number | null };
  /** Cores busy on average over the window: every measured process, PostgreSQL backends and Redis included. */
  coresBusy: number;
  peakRssMb: Record<string, number>;
  sqlStatementsPerItem: number | null;
  /** Committed + rolled-back transactions of the run's database per item (pg_stat_database; fleet: whole process lives). */
  transactionsPerItem: number | null;
  redisCommandsPerItem: number | null;
  /** The most frequent Redis commands in the window (INFO commandstats counts the calls made inside Lua scripts too). */
  redisTopCommands?: Record<string, number>;
  providerCallsPerBatch: number | null;
  batches: number | null;
  /** Share of wall time each fleet process's event loop was idle (mean over processes), and each. */
  idleShare: number | null;
  idleShareByProcess: Record<string, number> | null;
  /**
   * Each fleet process's resident set (MiB) when 10, 25, 50, 75 and 100% of the items were final:
   * flat while the queue drains means memory does not grow with the number of items queued.
   */
  rssMbByProgress?: Record<string, Record<string, number>>;
  /** Wall seconds from the first item enqueued to the first batch finished by the provider. */
  firstBatchSeconds?: number | null;
  /** Each batch's claim, build, submission, end and processing, in seconds since the first item was enqueued. */
  batchTimeline?: BatchTimeline[];
  /** When the items were stored by intake, in seconds since the first was enqueued. */
  intakeTimeline?: { first: number; median: number; last: number } | null;
  notes?: string[];
}

export interface BenchEnv {
  baseDbUrl: string;
  /** Prefix of the scratch database names (e.g. bf_bench_perf). */
  dbPrefix: string;
  redis: BenchRedis;
  sim: BenchSimulator;
  referenceDir: string;
  fakeBase: string;
  fakePid: number;
  /** Items in the reference's shape: request id and chat messages. */
  items: Array<{ requestId: string; messages: Array<{ role: string; content: string }> }>;
  procs: number;
  chunk: number;
  env: Record<string, string>;
  profileDir: string | undefined;
  timeoutMs: number;
  /** The simulator's webhook target: each fleet run starts an admin process there (its CPU counts as the fleet's). */
  webhook?: BenchWebhook;
}

const round = (x: number, d = 2): number => Number(x.toFixed(d));
const per10k = (cpu: number, n: number): number => round((cpu * 10_000) / n, 3);

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function deltaCalls(before: Record<string, number>, after: Record<string, number>): number {
  let n = 0;
  for (const [cmd, calls] of Object.entries(after)) if (cmd !== 'info' && cmd !== 'scan' && cmd !== 'unlink') n += calls - (before[cmd] ?? 0);
  return n;
}

function topCommands(before: Record<string, number>, after: Record<string, number>, k: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([cmd, calls]) => [cmd, calls - (before[cmd] ?? 0)] as const)
      .filter(([cmd, d]) => d > 0 && cmd !== 'info')
      .sort((a, b) => b[1] - a[1])
      .slice(0, k),
  );
}

/** One fleet run: fresh database and prefix, P processes of workers/all.ts, N items through the intake queue. */
export async function fleetRun(env: BenchEnv, run: number): Promise<RunResult> {
  const n = env.items.length;
  const dbName = `${env.dbPrefix}_fleet`;
  const dbUrl = await recreateDatabase(env.baseDbUrl, dbName);
  await migrate(dbUrl);
  await env.sim.reset();
  const xacts0 = await settledDatabaseCounters(env.baseDbUrl, dbName);
  const tag = `r${run}-${randomUUID().slice(0, 6)}`;
  const dataDir = join(VAR, 'data', tag);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const world: FleetWorld = { databaseUrl: dbUrl, redisUrl: env.redis.url, prefix: `bf-bench-${tag}`, simulatorUrl: env.sim.url, dataDir, env: env.env };
  const probes = probeDir(`fleet-${tag}`);
  const procs: FleetProcess[] = await Promise.all(
    Array.from({ length: env.procs }, (_, i) =>
      startFleetProcess(`fleet-${run}-${i + 1}`, world, ['workers/all.ts'], { probeDir: probes, profileDir: env.profileDir }),
    ),
  );
  // The webhook receiver, as in production: a finished batch is polled on its event, not on the next tick.
  const admin = env.webhook
    ? await startFleetProcess(`admin-${run}`, { ...world, env: { ...world.env, ADMIN_PORT: String(env.webhook.port), OPENAI_WEBHOOK_SECRET: env.webhook.secret } }, ['workers/admin.ts'], {
        probeDir: probes,
        profileDir: env.profileDir,
        readyLine: /"admin server listening"/,
      })
    : undefined;
  const everyProcess = admin ? [...procs, admin] : procs;
  const progress = new ProgressReader(dbUrl);
  await progress.open();
  const notes: string[] = [];
  if (admin) notes.push('webhooks: the simulator posts batch events to an admin process, whose CPU is counted with the fleet\'s');
  try {
    await checkpoint(env.baseDbUrl);
    const items = env.items.map((it) => ({ externalId: it.requestId, input: { messages: it.messages } }));
    const pgTracker = new CpuTracker(() => postgresBackends(dbName).filter((pid) => pid !== progress.backendPid));
    const clusterTracker = new CpuTracker(() => postgresProcesses());
    const fleetTracker = new CpuTracker(() => everyProcess.map((p) => p.child.pid));
    const [before, redisCpu0, redisCalls0, sim0] = await Promise.all([
      Promise.all(procs.map((p) => p.snapshot())),
      env.redis.cpuSeconds(),
      env.redis.commandCalls(),
      env.sim.stats(),
    ]);
    const simCpu0 = cpuSeconds(env.sim.pid) ?? 0;
    pgTracker.start();
    clusterTracker.start();
    fleetTracker.start();
    const t0 = performance.now();
    const t0Ms = Date.now();
    await enqueueIntake(world, 'bench-ticket', items, env.chunk);
    let firstBatch: number | null = null;
    const rssByProgress: Record<string, Record<string, number>> = {};
    const marks = [0.1, 0.25, 0.5, 0.75, 1];
    const done = await progress.waitFor((p) => {
      if (firstBatch === null && p.batchesFinished > 0) firstBatch = (performance.now() - t0) / 1000;
      for (const mark of marks) {
        const key = `${mark * 100}%`;
        if (p.final >= mark * n && !rssByProgress[key]) rssByProgress[key] = Object.fromEntries(procs.map((f) => [f.name, rssMb(f.child.pid) ?? 0]));
      }
      return p.final >= n;
    }, env.timeoutMs);
    const seconds = (performance.now() - t0) / 1000;
    const [after, redisCpu1, redisCalls1, sim1] = await Promise.all([
      Promise.all(procs.map((p) => p.snapshot())),
      env.redis.cpuSeconds(),
      env.redis.commandCalls(),
      env.sim.stats(),
    ]);
    const fleetCpu = fleetTracker.stop();
    const pgCpu = pgTracker.stop();
    const clusterCpu = clusterTracker.stop();
    const simCpu = (cpuSeconds(env.sim.pid) ?? simCpu0) - simCpu0;
    const redisCpu = redisCpu1 - redisCpu0;
    const peak: Record<string, number> = {};
    for (const p of procs) peak[p.name] = p.peakRssMb() ?? 0;
    const idle: Record<string, number> = {};
    procs.forEach((p, i) => {
      const a = after[i] as ProbeSnapshot;
      const b = before[i] as ProbeSnapshot;
      const idleMs = a.idleMs - b.idleMs;
      const activeMs = a.activeMs - b.activeMs;
      idle[p.name] = round(idleMs / Math.max(1, idleMs + activeMs), 3);
    });
    const statements = sum(after.map((a, i) => a.statements - (before[i] as ProbeSnapshot).statements));
    const redisCalls = deltaCalls(redisCalls0, redisCalls1);
    const simRequests = sim1.requests - sim0.requests;
    const simBatches = sim1.batchesCreated - sim0.batchesCreated;
    if (!env.redis.private) notes.push('Redis is shared with other clients: its CPU and command counts are upper bounds');
    const result: RunResult = {
      kind: 'fleet',
      run,
      items: n,
      ok: done.final === n,
      seconds: round(seconds),
      itemsPerSecond: Math.round(n / seconds),
      cpuSeconds: { process: round(fleetCpu), postgres: round(pgCpu), postgresCluster: round(clusterCpu), redis: round(redisCpu), provider: round(simCpu) },
      cpuPer10k: {
        process: per10k(fleetCpu, n),
        postgres: per10k(pgCpu, n),
        processPlusPostgres: per10k(fleetCpu + pgCpu, n),
        redis: per10k(redisCpu, n),
        provider: per10k(simCpu, n),
      },
      coresBusy: round((fleetCpu + pgCpu + redisCpu + simCpu) / seconds),
      peakRssMb: peak,
      sqlStatementsPerItem: round(statements / n, 3),
      transactionsPerItem: null,
      redisCommandsPerItem: round(redisCalls / n, 2),
      redisTopCommands: topCommands(redisCalls0, redisCalls1, 10),
      providerCallsPerBatch: simBatches > 0 ? round(simRequests / simBatches, 1) : null,
      batches: done.batches,
      idleShare: round(sum(Object.values(idle)) / procs.length, 3),
      idleShareByProcess: idle,
      firstBatchSeconds: firstBatch === null ? null : round(firstBatch),
      rssMbByProgress: rssByProgress,
      batchTimeline: await progress.batchTimeline(t0Ms),
      intakeTimeline: await progress.intakeTimeline(t0Ms),
      notes,
    };
    await Promise.all(everyProcess.map((p) => p.child.stop('SIGTERM', 30_000)));
    // Backends flush their statistics when they exit: read the transaction count after the fleet stopped.
    await progress.close();
    const counters = await settledDatabaseCounters(env.baseDbUrl, dbName);
    result.transactionsPerItem = round((counters.xacts - xacts0.xacts - progress.queries) / n, 3);
    return result;
  } finally {
    await progress.close().catch(() => undefined);
    await Promise.all(everyProcess.map((p) => p.child.stop('SIGKILL', 5_000)));
    await env.redis.clear(world.prefix);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface ReferenceOutput {
  kind: string;
  items: number;
  ok: boolean;
  total_ms: number;
  peak_rss_mb: number;
  batches?: number;
  phases: Record<string, { ms: number; statements?: number }>;
}

/** One run of the naive reference (`kind` reference) or of the floor, in its own process. */
export async function referenceRun(env: BenchEnv, kind: 'reference' | 'floor', run: number): Promise<RunResult> {
  const n = env.items.length;
  const dbName = `${env.dbPrefix}_ref`;
  await recreateDatabase(env.baseDbUrl, dbName);
  const dbUrl = databaseUrl(env.baseDbUrl, dbName);
  const scratch = join(VAR, 'scratch');
  mkdirSync(scratch, { recursive: true });
  if (kind === 'reference') await fetch(`${env.fakeBase}/__reset`, { method: 'POST' });
  await checkpoint(env.baseDbUrl);
  const script = kind === 'reference' ? 'run-baseline.mjs' : 'run-floor.mjs';
  const args = [join(env.referenceDir, script), '--items', String(n), '--db', dbUrl, '--work-dir', scratch];
  if (kind === 'reference') args.push('--base-url', `${env.fakeBase}/v1`);
  const pgTracker = new CpuTracker(() => postgresBackends(dbName));
  const clusterTracker = new CpuTracker(() => postgresProcesses());
  const fakeCpu0 = cpuSeconds(env.fakePid) ?? 0;
  const child = spawnChild(`${kind}-${run}`, childNodeBinary(), args);
  const procTracker = new CpuTracker(() => [child.pid]);
  procTracker.start(100);
  pgTracker.start();
  clusterTracker.start();
  const line = await child.waitForLine(/^\{"kind"/, env.timeoutMs);
  const procCpu = procTracker.stop();
  const pgCpu = pgTracker.stop();
  const clusterCpu = clusterTracker.stop();
  await child.exited;
  const fakeCpu = kind === 'reference' ? (cpuSeconds(env.fakePid) ?? fakeCpu0) - fakeCpu0 : null;
  const out = JSON.parse(line) as ReferenceOutput;
  const seconds = out.total_ms / 1000;
  const statements = sum(Object.values(out.phases).map((p) => p.statements ?? 0));
  return {
    kind,
    run,
    items: n,
    ok: out.ok,
    seconds: round(seconds),
    itemsPerSecond: Math.round(n / seconds),
    cpuSeconds: { process: round(procCpu), postgres: round(pgCpu), postgresCluster: round(clusterCpu), redis: null, provider: fakeCpu === null ? null : round(fakeCpu) },
    cpuPer10k: {
      process: per10k(procCpu, n),
      postgres: per10k(pgCpu, n),
      processPlusPostgres: per10k(procCpu + pgCpu, n),
      redis: null,
      provider: fakeCpu === null ? null : per10k(fakeCpu, n),
    },
    // The process CPU includes its set-up, outside `seconds`: an upper bound.
    coresBusy: round((procCpu + pgCpu + (fakeCpu ?? 0)) / seconds),
    peakRssMb: { [kind]: out.peak_rss_mb },
    sqlStatementsPerItem: kind === 'reference' ? round(statements / n, 3) : null,
    transactionsPerItem: null,
    redisCommandsPerItem: null,
    providerCallsPerBatch: null,
    batches: out.batches ?? null,
    idleShare: null,
    idleShareByProcess: null,
    notes: ['CPU of the whole process, set-up (item generation, table creation) included'],
  };
}
