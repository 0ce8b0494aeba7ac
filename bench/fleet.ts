/**
 * Drives the fleet only through its stable entry points: worker processes started as a
 * deployment starts them (`workers/all.ts`, `batchfleet worker --role …`) with their settings in
 * the environment, producer jobs on the `intake` queue, and the database tables read for
 * completion. When the store's tables change, only the queries at the bottom of this file move.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import ts from 'typescript';
import { QUEUES } from '../src/queues/names.ts';
import { childNodeBinary, REPO, spawnChild, VAR, type Child } from './lib/children.ts';
import { peakRssMb } from './lib/proc.ts';

export const PROBE = join(import.meta.dirname, 'probe.mjs');

/**
 * How fleet processes run. `dist` (the default): the built JavaScript with plain node, which is
 * what a deployment runs, so memory and CPU figures carry no TypeScript loader. `source`: the
 * TypeScript through tsx (`--source`), for profiles that point at .ts lines.
 */
export type FleetRuntime = 'dist' | 'source';
let runtime: FleetRuntime = 'dist';
let benchTasks = 'bench/tasks.ts';

/**
 * Gets the fleet processes' code ready: for `dist`, builds dist/ and compiles bench/tasks.ts to
 * var/bench/tasks.mjs, its imports of ../src/*.ts pointed at dist/src/*.js (one copy of the task
 * classes, so the fleet's instanceof checks hold).
 */
export function prepareFleetRuntime(r: FleetRuntime): void {
  runtime = r;
  if (r === 'source') return;
  execFileSync(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  const source = readFileSync(join(REPO, 'bench', 'tasks.ts'), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const pointed = js.replace(/from '\.\.\/src\/([^']+)\.ts'/g, (_m, path: string) => `from '${pathToFileURL(join(REPO, 'dist', 'src', `${path}.js`)).href}'`);
  mkdirSync(VAR, { recursive: true });
  benchTasks = join(VAR, 'tasks.mjs');
  writeFileSync(benchTasks, pointed);
}

/** A worker entry (`workers/<role>.ts`) as this runtime starts it. */
function entryFor(entry: string): string {
  return runtime === 'dist' ? entry.replace(/^workers\/(.+)\.ts$/, 'dist/workers/$1.js') : entry;
}

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
    BATCHFLEET_TASKS: benchTasks,
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
 * Starts one fleet process: `node [nodeFlags] --import tsx --import bench/probe.mjs <entry> [args]` and waits
 * for its "workers started" log line. `profileDir` adds --cpu-prof.
 */
export async function startFleetProcess(
  name: string,
  world: FleetWorld,
  entry: string[],
  options: { probeDir: string; profileDir?: string; readyLine?: RegExp; nodeFlags?: readonly string[] },
): Promise<FleetProcess> {
  const nodeArgs = [...(options.nodeFlags ?? []), ...(runtime === 'source' ? ['--import', 'tsx', '--import', PROBE] : ['--import', PROBE])];
  if (options.profileDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', join(options.profileDir, name)); // one file per thread (the tsx loader runs in its own)
  const [first, ...rest] = entry;
  const child = spawnChild(name, childNodeBinary(), [...nodeArgs, entryFor(first!), ...rest], { env: fleetEnv(world, options.probeDir) });
  await child.waitForLine(options.readyLine ?? /"workers started"/, 120_000);
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
    // A few jobs per call, as a streaming producer would: the fleet starts on the first ones while
    // the rest are still being sent, instead of after all of them are serialised in one MULTI.
    for (let i = 0; i < jobs.length; i += 4) await queue.addBulk(jobs.slice(i, i + 4));
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
  /** Requests of the batches already processed (a cheap sign that item counts have moved). */
  processedRequests: number;
}

/** One batch's life in a bench run, in seconds since the first item was enqueued (null: not reached). */
export interface BatchTimeline {
  requests: number | null;
  claimed: number;
  built: number | null;
  submitted: number | null;
  ended: number | null;
  processed: number | null;
}

/** SQL: seconds from `$1` (epoch ms) to the timestamp `expr`, to two decimals (the timelines below). */
const at = (expr: string) => `round((extract(epoch from ${expr}) * 1000 - $1::float8)::numeric / 1000, 2)::float8`;

/**
 * A small read-only connection for progress queries. Polling is two-tier so the bench does not
 * tax the database it measures: the batches table (a handful of rows) on every poll, the items
 * table (a scan of every item) only when a batch has been processed since the last count, or once
 * a second. Its own backend is left out of the run's PostgreSQL CPU (`backendPid`).
 */
export class ProgressReader {
  private readonly client: pg.Client;
  /** Statements (autocommit transactions) this reader sent, to take out of the database's counters. */
  queries = 0;
  /** The PostgreSQL backend serving this reader. */
  backendPid = 0;
  private items = { final: 0, total: 0, queued: 0, processedRequests: -1, at: 0 };

  constructor(databaseUrl: string) {
    this.client = new pg.Client({ connectionString: databaseUrl });
  }

  async open(): Promise<void> {
    await this.client.connect();
    const { rows } = await this.client.query<{ pid: number }>('select pg_backend_pid() as pid');
    this.backendPid = rows[0]!.pid;
  }

  async read(): Promise<Progress> {
    this.queries++;
    const { rows } = await this.client.query<{ batches: number; finished: number; processed_requests: number }>(
      `select count(*)::int as batches,
              (count(*) filter (where status in ('completed', 'expired', 'failed', 'cancelled', 'processed')))::int as finished,
              coalesce(sum(request_count) filter (where status = 'processed'), 0)::int as processed_requests
         from batches`,
    );
    const b = rows[0]!;
    if (b.processed_requests !== this.items.processedRequests || Date.now() - this.items.at >= 1_000) {
      this.queries++;
      const { rows: counts } = await this.client.query<{ final: number; total: number; queued: number }>(
        `select (count(*) filter (where status in ('succeeded', 'failed', 'cancelled')))::int as final,
                count(*)::int as total,
                (count(*) filter (where status = 'queued'))::int as queued
           from items`,
      );
      this.items = { ...counts[0]!, processedRequests: b.processed_requests, at: Date.now() };
    }
    return { final: this.items.final, total: this.items.total, queued: this.items.queued, batches: b.batches, batchesFinished: b.finished, processedRequests: b.processed_requests };
  }

  /**
   * Each batch's life in wall seconds since `t0Ms` (epoch ms): when it was claimed, its file
   * written, accepted by the provider, ended there and its results recorded. Gaps between batches
   * show which stage the pipeline waits on.
   */
  async batchTimeline(t0Ms: number): Promise<BatchTimeline[]> {
    this.queries++;
    const { rows } = await this.client.query<BatchTimeline>(
      `select request_count as requests, ${at('created_at')} as claimed, ${at('built_at')} as built, ${at('submitted_at')} as submitted,
              ${at('terminal_at')} as ended, ${at('processed_at')} as processed
         from batches order by created_at`,
      [t0Ms],
    );
    return rows;
  }

  /** When items were stored, in wall seconds since `t0Ms`: the first, the median and the last. */
  async intakeTimeline(t0Ms: number): Promise<{ first: number; median: number; last: number } | null> {
    this.queries++;
    const { rows } = await this.client.query<{ first: number | null; median: number | null; last: number | null }>(
      `select ${at('min(created_at)')} as first, ${at("percentile_disc(0.5) within group (order by created_at)")} as median, ${at('max(created_at)')} as last from items`,
      [t0Ms],
    );
    const r = rows[0];
    return r && r.first !== null ? { first: r.first, median: r.median!, last: r.last! } : null;
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
