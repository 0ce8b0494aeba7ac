/**
 * The large output file bench: one batch of L items (default 50,000) whose answers are 3,700
 * characters, so the provider's output file is about 200 MB. The process role runs alone in its
 * own process with default settings and the node flags its shipped manifest gives it
 * (`workerNodeFlags`, scripts/worker-roles.ts); the bench reports that process's peak RSS (VmHWM) and the
 * lines per second from the moment the provider finished the batch to the last item final.
 * The other roles run in their own processes, and the build starts only once every item is in
 * the database, so the whole file is one batch.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { workerNodeFlags } from '../scripts/worker-roles.ts';
import { VAR } from './lib/children.ts';
import { cpuSeconds, peakRssMb } from './lib/proc.ts';
import { migrate, recreateDatabase, type BenchRedis, type BenchSimulator } from './lib/services.ts';
import { enqueueIntake, ProgressReader, probeDir, startFleetProcess, type FleetProcess, type FleetWorld } from './fleet.ts';

export interface FileBenchResult {
  lines: number;
  ok: boolean;
  outputFileMb: number | null;
  /** Seconds from the provider finishing the batch to the last item final. */
  seconds: number;
  linesPerSecond: number;
  processWorker: { peakRssMb: number; rssBeforeMb: number; cpuSeconds: number; idleShare: number; sqlStatementsPerLine: number; nodeFlags: string[] };
  /** Seconds the simulator took to run the batch and write the file (not the fleet's). */
  providerSeconds: number;
}

function largestFile(dir: string): number | null {
  let best: number | null = null;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const size = statSync(p).size;
        if (best === null || size > best) best = size;
      }
    }
  };
  try {
    walk(dir);
  } catch {
    return best;
  }
  return best;
}

export async function fileBench(opts: {
  baseDbUrl: string;
  dbPrefix: string;
  redis: BenchRedis;
  sim: BenchSimulator;
  lines: number;
  chunk: number;
  env: Record<string, string>;
  profileDir: string | undefined;
  timeoutMs: number;
}): Promise<FileBenchResult> {
  const n = opts.lines;
  const dbName = `${opts.dbPrefix}_file`;
  const dbUrl = await recreateDatabase(opts.baseDbUrl, dbName);
  await migrate(dbUrl);
  await opts.sim.reset();
  const tag = `file-${randomUUID().slice(0, 6)}`;
  const dataDir = join(VAR, 'data', tag);
  mkdirSync(dataDir, { recursive: true });
  const world: FleetWorld = {
    databaseUrl: dbUrl,
    redisUrl: opts.redis.url,
    prefix: `bf-bench-${tag}`,
    simulatorUrl: opts.sim.url,
    dataDir,
    // Keep the provider's files (to report the output file's size), cap the poll back-off so the
    // bench does not wait up to a minute after the simulator is done, and build one batch of all
    // the lines (the target size would split it). None of these touches the process role.
    env: { PROVIDER_FILE_RETENTION: 'keep', POLL_MAX_MS: '2000', BUILD_TARGET_REQUESTS: String(Math.max(n, 1)), ...opts.env },
  };
  const probes = probeDir(tag);
  const started: FleetProcess[] = [];
  const nodeFlags = workerNodeFlags('process');
  const start = async (role: string) => {
    const p = await startFleetProcess(`file-${role}`, world, [`workers/${role}.ts`], { probeDir: probes, profileDir: opts.profileDir, nodeFlags: role === 'process' ? nodeFlags : [] });
    started.push(p);
    return p;
  };
  const progress = new ProgressReader(dbUrl);
  await progress.open();
  try {
    const [processWorker] = await Promise.all([start('process'), start('intake')]);
    const items = Array.from({ length: n }, (_, i) => ({ externalId: `long-${i}`, input: { topic: `topic number ${i}` } }));
    await enqueueIntake(world, 'bench-long-answer', items, opts.chunk);
    await progress.waitFor((p) => p.total >= n, opts.timeoutMs, 200);
    const submitted = performance.now();
    await Promise.all([start('build'), start('submit'), start('poll')]);
    await progress.waitFor((p) => p.batchesFinished > 0, opts.timeoutMs, 50);
    const rssBefore = peakRssMb(processWorker!.child.pid) ?? 0;
    const before = await processWorker!.snapshot();
    const cpu0 = cpuSeconds(processWorker!.child.pid) ?? 0;
    const t0 = performance.now();
    const done = await progress.waitFor((p) => p.final >= n, opts.timeoutMs, 50);
    const seconds = (performance.now() - t0) / 1000;
    const after = await processWorker!.snapshot();
    const cpu = (cpuSeconds(processWorker!.child.pid) ?? cpu0) - cpu0;
    const peak = peakRssMb(processWorker!.child.pid) ?? 0;
    const idleMs = after.idleMs - before.idleMs;
    const activeMs = after.activeMs - before.activeMs;
    const size = largestFile(join(VAR, 'sim-data'));
    return {
      lines: n,
      ok: done.final === n && done.batches === 1,
      outputFileMb: size === null ? null : Math.round(size / 1e6),
      seconds: Number(seconds.toFixed(2)),
      linesPerSecond: Math.round(n / seconds),
      processWorker: {
        peakRssMb: peak,
        rssBeforeMb: rssBefore,
        cpuSeconds: Number(cpu.toFixed(2)),
        idleShare: Number((idleMs / Math.max(1, idleMs + activeMs)).toFixed(3)),
        sqlStatementsPerLine: Number(((after.statements - before.statements) / n).toFixed(3)),
        nodeFlags,
      },
      providerSeconds: Number(((t0 - submitted) / 1000).toFixed(2)),
    };
  } finally {
    await progress.close();
    await Promise.all(started.map((p) => p.child.stop('SIGTERM', 30_000)));
    await opts.redis.clear(world.prefix);
    await opts.sim.reset();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
