/**
 * Per-stage micro benches. The only file of the bench that calls pipeline functions directly:
 * when the core's stage functions move, repoint the imports and calls here. Each stage runs once
 * over the same N items, in this process, against a scratch database, the bench's Redis and the
 * simulator process; figures are wall time in this process (the simulator's work on submit and
 * poll is in another process). Pipeline stages also report CPU per 10,000 items: this process's,
 * and that of the PostgreSQL backends of the stage's database, which are steadier than wall time
 * on a shared machine.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { query } from '../src/store/sql.ts';
import { build } from '../src/pipeline/build.ts';
import { intake } from '../src/pipeline/intake.ts';
import { poll } from '../src/pipeline/poll.ts';
import { processBatch } from '../src/pipeline/process/index.ts';
import { submit } from '../src/pipeline/submit.ts';
import { createContext } from '../src/runtime/context.ts';
import { classifyTicket } from '../src/tasks/index.ts';
import { createTokenCounter, type TokenCounterOptions } from '../src/tokens/index.ts';
import { VAR } from './lib/children.ts';
import { CpuTracker, postgresBackends } from './lib/proc.ts';
import { migrate, recreateDatabase, type BenchRedis, type BenchSimulator } from './lib/services.ts';
import registry, { benchTicket } from './tasks.ts';

export interface StageResult {
  stage: string;
  units: number;
  unit: string;
  seconds: number;
  perSecond: number;
  detail?: Record<string, number | string>;
  /** CPU seconds per 10,000 units: this process, and the PostgreSQL backends of the stage's database. */
  cpuPer10k?: { process: number; postgres: number };
}

const round = (x: number, d = 2): number => Number(x.toFixed(d));

type StageBody = () => Promise<Record<string, number | string> | void> | Record<string, number | string> | void;

/** Runs one stage; with `database`, also measures CPU (this process, and that database's backends). */
async function timed(stage: string, units: number, unit: string, fn: StageBody, database?: string): Promise<StageResult> {
  const pg = database === undefined ? undefined : new CpuTracker(() => postgresBackends(database));
  pg?.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const detail = (await fn()) ?? undefined;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const pgSeconds = pg?.stop();
  const per10k = (s: number) => round((s * 10_000) / units, 3);
  const r: StageResult = { stage, units, unit, seconds: round(seconds, 3), perSecond: Math.round(units / seconds), ...(detail ? { detail } : {}) };
  if (pgSeconds !== undefined) r.cpuPer10k = { process: per10k((cpu.user + cpu.system) / 1e6), postgres: per10k(pgSeconds) };
  const cpuNote = r.cpuPer10k ? `; CPU-s per 10k: process ${r.cpuPer10k.process}, PostgreSQL ${r.cpuPer10k.postgres}` : '';
  console.error(`  stage ${stage}: ${units} ${unit} in ${r.seconds} s (${r.perSecond}/s)${cpuNote}`);
  return r;
}

/**
 * The token counter on the reference's items and on the example ticket task (system prompt and
 * JSON schema shared by all requests). All configurations must agree on the total.
 */
export async function tokenStages(items: Array<{ messages: Array<{ role: string; content: string }> }>): Promise<StageResult[]> {
  const out: StageResult[] = [];
  const shapes: Array<{ name: string; bodies: Array<Record<string, unknown>> }> = [
    { name: 'reference items', bodies: items.map((it) => benchTicket.buildRequest({ messages: it.messages as never }, {}) as Record<string, unknown>) },
    {
      name: 'classify-ticket (schema)',
      bodies: items.map((it) => classifyTicket.buildRequest({ subject: 'Ticket', body: it.messages.at(-1)!.content }, {}) as Record<string, unknown>),
    },
  ];
  const configs: Array<{ name: string; options: TokenCounterOptions }> = [
    { name: 'no caches', options: { cacheSize: 0, prefixCacheSize: 0 } },
    { name: 'string LRU only', options: { prefixCacheSize: 0 } },
    { name: 'default (prefix cache)', options: {} },
  ];
  // Rounds interleave the configurations (each with a fresh counter, cold caches included); the
  // best round of each is reported, in CPU seconds, the machine being shared.
  const rounds = 5;
  for (const shape of shapes) {
    const best = new Map<string, { seconds: number; tokens: number }>();
    for (let round = 0; round < rounds; round++) {
      for (const config of configs) {
        const counter = createTokenCounter(config.options);
        let tokens = 0;
        // CPU time of this process, not wall time: on a shared machine the wall clock also counts
        // the time other processes held the core.
        const c0 = process.cpuUsage();
        for (const b of shape.bodies) tokens += counter.countRequest('/v1/chat/completions', b);
        const c1 = process.cpuUsage(c0);
        const seconds = (c1.user + c1.system) / 1e6;
        const prev = best.get(config.name);
        if (prev !== undefined && prev.tokens !== tokens) throw new Error(`token counts differ between rounds for ${config.name}`);
        if (prev === undefined || seconds < prev.seconds) best.set(config.name, { seconds, tokens });
      }
    }
    const totals = new Set([...best.values()].map((b) => b.tokens));
    if (totals.size !== 1) throw new Error(`token counter configurations disagree on ${shape.name}: ${[...totals].join(' vs ')}`);
    for (const config of configs) {
      const b = best.get(config.name)!;
      const r: StageResult = {
        stage: `tokens: ${shape.name}, ${config.name}`,
        units: shape.bodies.length,
        unit: 'requests',
        seconds: round(b.seconds, 3),
        perSecond: Math.round(shape.bodies.length / b.seconds),
        detail: { tokens: b.tokens, tokensPerCpuSecond: Math.round(b.tokens / b.seconds), bestOf: rounds, clock: 'cpu' },
      };
      console.error(`  stage ${r.stage}: ${r.perSecond} requests per CPU-second (best of ${rounds})`);
      out.push(r);
    }
  }
  return out;
}

/** intake, build, submit, poll and process, each on its own, in order, over the same items. */
export async function pipelineStages(
  opts: { baseDbUrl: string; dbPrefix: string; redis: BenchRedis; sim: BenchSimulator; chunk: number },
  items: Array<{ requestId: string; messages: Array<{ role: string; content: string }> }>,
): Promise<StageResult[]> {
  const dbName = `${opts.dbPrefix}_stages`;
  const dbUrl = await recreateDatabase(opts.baseDbUrl, dbName);
  await migrate(dbUrl);
  await opts.sim.reset();
  const prefix = `bf-bench-stages-${process.pid}`;
  const dataDir = join(VAR, 'data', 'stages');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const config = loadConfig({
    DATABASE_URL: dbUrl,
    REDIS_URL: opts.redis.url,
    BATCHFLEET_PREFIX: prefix,
    SIMULATOR_URL: opts.sim.url,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    TOKEN_LIMITS: JSON.stringify({ 'gpt-4o-mini': 2_000_000_000 }),
  });
  const ctx = createContext(config, registry);
  const n = items.length;
  const out: StageResult[] = [];
  try {
    const payloads: Array<{ task: string; items: Array<{ externalId: string; input: unknown }> }> = [];
    for (let i = 0; i < n; i += opts.chunk) {
      payloads.push({ task: 'bench-ticket', items: items.slice(i, i + opts.chunk).map((it) => ({ externalId: it.requestId, input: { messages: it.messages } })) });
    }
    out.push(await timed('intake (validate, count tokens, store)', n, 'items', async () => {
      for (const p of payloads) await intake(ctx, p);
    }, dbName));
    let batchIds: string[] = [];
    out.push(await timed('build (claim, write JSONL)', n, 'items', async () => {
      for (;;) {
        const r = await build(ctx, 'bench-ticket');
        batchIds.push(...r.batches);
        if (r.batches.length === 0 || r.stoppedBy !== 'task-cap') break;
      }
      return { batches: batchIds.length };
    }, dbName));
    batchIds = (await query<{ id: string }>(ctx.db, `select id from batches where status = 'built' order by created_at`)).map((r) => r.id);
    out.push(await timed('submit (budget, upload, create)', n, 'items', async () => {
      for (const id of batchIds) {
        const r = await submit(ctx, id);
        if (r.kind !== 'submitted') throw new Error(`submit ${id}: ${JSON.stringify(r)}`);
      }
      return { batches: batchIds.length };
    }, dbName));
    let calls = 0;
    out.push(await timed('poll (until the provider has finished)', n, 'items', async () => {
      for (const id of batchIds) {
        for (;;) {
          calls++;
          const r = await poll(ctx, id);
          if (r.kind !== 'open') break;
          await new Promise((res) => setTimeout(res, 20)); // the simulator finishes in the background
        }
      }
      return { pollCalls: calls };
    }, dbName));
    out.push(await timed('process (stream results, verdicts, commit)', n, 'items', async () => {
      let lines = 0;
      for (const id of batchIds) {
        const r = await processBatch(ctx, id);
        if (r.kind === 'processed') lines += r.lines;
      }
      return { lines };
    }, dbName));
    const [final] = await query<{ n: number }>(ctx.db, `select count(*)::int as n from items where status = 'succeeded'`);
    if (final?.n !== n) throw new Error(`stages: ${final?.n ?? 0} of ${n} items succeeded`);
  } finally {
    await ctx.close();
    await opts.redis.clear(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}
