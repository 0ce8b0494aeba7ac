/**
 * Drives the fleet only through its stable entry points: worker processes started as a
 * deployment starts them (`workers/all.ts`, `batchfleet worker --role …`) with their settings in
 * the environment, producer jobs on the `intake` queue, and the database tables read for
 * completion. When the store's tables change, only the queries at the bottom of this file move.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { QUEUES } from '../src/queues/names.ts';
import { spawnChild, VAR, type Child } from './lib/children.ts';
import { peakRssMb } from './lib/proc.ts';

export const PROBE = join(import.meta.dirname, 'probe.mjs');
export const BENCH_TASKS = 'bench/tasks.ts';

/** Where a fleet run's processes point. */
export interface FleetWorld {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  simulatorUrl: string;
  dataDir: string;
  /** Extra settings, e.g. from `--env KEY=VALUE`. */
  env: Record<string, string>;
}

/** Variables of the bench's own environment that must not leak into a fleet process. */
const SCRUBBED = /^(OPENAI_|BATCHFLEET_|DATABASE_URL$|TEST_DATABASE_URL$|REDIS_URL$|SIMULATOR_URL$|DATA_DIR$|NODE_OPTIONS$|CONCURRENCY_|POLL_|RECONCILE_|SHUTDOWN_|LOG_|BUILD_|TOKEN_LIMITS$)/;

/** The environment of one fleet process. */
export function fleetEnv(world: FleetWorld, probeDir: string): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SCRUBBED.test(k)));
  return {
    ...base,
    DATABASE_URL: world.databaseUrl,
    REDIS_URL: world.redisUrl,
    BATCHFLEET_PREFIX: world.prefix,
    SIMULATOR_URL: world.simulatorUrl,
    DATA_DIR: world.dataDir,
    BATCHFLEET_TASKS: BENCH_TASKS,
    // Far above any bench size: the bench measures speed, not the budget's holding.
    TOKEN_LIMITS: JSON.stringify({ 'gpt-4o-mini': 2_000_000_000 }),
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    BENCH_PROBE_DIR: probeDir,
    ...world.env,
  };
}

/** One fleet process with its probe. */
export interface FleetProcess {
  child: Child;
  name: string;
  /** Cumulative probe figures on demand (SIGUSR2), read back from the probe's file. */
  snapshot(): Promise<ProbeSnapshot>;
  peakRssMb(): number | undefined;
}

export interface ProbeSnapshot {
  pid: number;
  t: number;
  idleMs: number;
  activeMs: number;
  cpuSeconds: number;
  maxRssMb: number;
  statements: number;
}

/**
 * Starts one fleet process: `node --import tsx --import bench/probe.mjs <entry> [args]` and waits
 * for its "workers started" log line. `profileDir` adds --cpu-prof.
 */
export async function startFleetProcess(
  name: string,
  world: FleetWorld,
  entry: string[],
  options: { probeDir: string; profileDir?: string },
): Promise<FleetProcess> {
  const nodeArgs = ['--import', 'tsx', '--import', PROBE];
  if (options.profileDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', options.profileDir, '--cpu-prof-name', `${name}.cpuprofile`);
  const child = spawnChild(name, process.execPath, [...nodeArgs, ...entry], { env: fleetEnv(world, options.probeDir) });
  await child.waitForLine(/"workers started"/, 120_000);
  let n = 0;
  return {
    child,
    name,
    async snapshot() {
      const file = join(options.probeDir, `${child.pid}-${++n}.json`);
      child.proc.kill('SIGUSR2');
      const deadline = Date.now() + 10_000;
      while (!existsSync(file)) {
        if (Date.now() > deadline) throw new Error(`${name}: no probe snapshot ${file}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      // The probe writes with writeFileSync; a short retry covers reading between create and write.
      for (;;) {
        try {
          return JSON.parse(readFileSync(file, 'utf8')) as ProbeSnapshot;
        } catch {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    },
    peakRssMb: () => peakRssMb(child.pid),
  };
}

/** A fresh directory for probe files. */
export function probeDir(run: string): string {
  const dir = join(VAR, 'probe', run);
  rmSync(dir, { recursive: true, force: true });
  return dir;
}

/** Producer side: the intake queue. Adds `items` as jobs of `chunk` items each. */
export async function enqueueIntake(world: FleetWorld, task: string, items: Array<{ externalId: string; input: unknown }>, chunk: number): Promise<void> {
  const connection = new Redis(world.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUES.intake, { connection, prefix: world.prefix });
  try {
    const jobs = [];
    for (let i = 0; i < items.length; i += chunk) jobs.push({ name: 'intake', data: { task, items: items.slice(i, i + chunk) } });
    for (let i = 0; i < jobs.length; i += 100) await queue.addBulk(jobs.slice(i, i + 100));
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

// ---- What the bench reads from the database (the only place that knows table names). ----

/** Items in a final state, items known, and batches created. */
export interface Progress {
  final: number;
  total: number;
  queued: number;
  batches: number;
  /** Batches the provider has finished (terminal provider status or already processed). */
  batchesFinished: number;
}

/** A small read-only connection for progress queries. */
export class ProgressReader {
  private readonly client: pg.Client;
  /** Statements (autocommit transactions) this reader sent, to take out of the database's counters. */
  queries = 0;

  constructor(databaseUrl: string) {
    this.client = new pg.Client({ connectionString: databaseUrl });
  }

  async open(): Promise<void> {
    await this.client.connect();
  }

  async read(): Promise<Progress> {
    this.queries++;
    const { rows } = await this.client.query<{ final: number; total: number; queued: number; batches: number; finished: number }>(
      `select (select count(*) filter (where status in ('succeeded', 'failed', 'cancelled'))::int from items) as final,
              (select count(*)::int from items) as total,
              (select count(*) filter (where status = 'queued')::int from items) as queued,
              (select count(*)::int from batches) as batches,
              (select count(*) filter (where status in ('completed', 'expired', 'failed', 'cancelled', 'processed'))::int from batches) as finished`,
    );
    const r = rows[0]!;
    return { final: r.final, total: r.total, queued: r.queued, batches: r.batches, batchesFinished: r.finished };
  }

  /** Polls until `done(progress)`; rejects after `timeoutMs` with the last progress. */
  async waitFor(done: (p: Progress) => boolean, timeoutMs: number, periodMs = 50): Promise<Progress> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = await this.read();
      if (done(p)) return p;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${JSON.stringify(p)}`);
      await new Promise((r) => setTimeout(r, periodMs));
    }
  }

  private closed = false;

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.end();
  }
}

/** Removes old probe directories (they are small, but a bench run makes many). */
export function clearProbeRoot(): void {
  const root = join(VAR, 'probe');
  if (existsSync(root)) for (const d of readdirSync(root)) rmSync(join(root, d), { recursive: true, force: true });
}
