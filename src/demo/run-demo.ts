import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import pino from 'pino';
import { loadConfig, type Config } from '../config.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { enqueueProcess } from '../pipeline/triggers.ts';
import { ROLES } from '../queues/names.ts';
import * as batches from '../store/batches.ts';
import { ensureDatabase } from '../store/db.ts';
import { runProgress, summarizeRun, type RunSummary } from '../store/read-models/index.ts';
import { createLogger } from '../logging/index.ts';
import { createContext } from '../runtime/context.ts';
import { startFleet } from '../runtime/fleet.ts';
import { startSimulator } from 'openai-batch-simulator';
import { exampleRegistry } from '../tasks/index.ts';
import { sampleItems, sampleItemsFor } from './samples.ts';

export interface DemoOptions {
  items: number;
  scenario: string;
  seed: number;
  json: boolean;
  timeoutSec: number;
  /** Only this example task (e.g. `responses-example`); default: classify-ticket and summarize-article. */
  task?: string;
}

export function parseDemoArgs(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      items: { type: 'string', default: '1000' },
      scenario: { type: 'string', default: 'happy' },
      seed: { type: 'string', default: '42' },
      json: { type: 'boolean', default: false },
      'timeout-sec': { type: 'string', default: '900' },
      task: { type: 'string' },
    },
  });
  const tasks = exampleRegistry().names();
  if (values.task !== undefined && !tasks.includes(values.task)) throw new Error(`--task must be one of ${tasks.join(', ')}, got "${values.task}"`);
  const items = Number(values.items);
  if (!Number.isInteger(items) || items < 1) throw new Error(`--items must be a positive integer, got "${values.items}"`);
  return { items, scenario: values.scenario!, seed: Number(values.seed), json: values.json!, timeoutSec: Number(values['timeout-sec']), task: values.task };
}

/** Demo defaults: quick polls, and enough batches in flight to show a fleet at work. */
function demoConfig(base: Config, simulatorUrl: string | undefined): Config {
  return {
    ...base,
    provider: simulatorUrl ? { apiKey: 'sk-demo-simulator', baseURL: simulatorUrl, simulated: true } : base.provider,
    poll: { ...base.poll, minMs: Math.min(base.poll.minMs, 250), maxMs: Math.min(base.poll.maxMs, 2_000) },
    reconcileEveryMs: Math.min(base.reconcileEveryMs || 10_000, 10_000),
  };
}

/**
 * The main job: starts the simulator (unless a real key is set) and every role in this process,
 * enqueues sample items, waits until every item is final, and prints a summary.
 */
export async function runDemo(options: DemoOptions): Promise<RunSummary & { runId: string; scenario: string; seconds: number; simulator: unknown }> {
  const started = Date.now();
  const base = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
  const sim = base.provider.simulated ? await startSimulator({ port: 0, scenario: options.scenario, seed: options.seed }) : undefined;
  const config = demoConfig(base, sim?.url);
  await ensureDatabase(config.databaseUrl);
  const log = createLogger({ level: config.log.level, pretty: false, showBodies: config.log.bodies, destination: pino.destination({ dest: 2, sync: false }) });
  const ctx = createContext(config, exampleRegistry(), { log });
  if (sim) await releaseWorkOfStoppedSimulators(ctx);
  const fleet = await startFleet(ctx, ROLES);
  const runId = `demo-${randomUUID().slice(0, 8)}`;
  try {
    const items = options.task ? sampleItemsFor(options.task, runId, options.items) : sampleItems(runId, options.items);
    for (const task of new Set(items.map((i) => i.task))) {
      const mine = items.filter((i) => i.task === task);
      for (let i = 0; i < mine.length; i += 500) {
        await ctx.queues.intake.add('intake', { task, items: mine.slice(i, i + 500).map(({ externalId, input }) => ({ externalId, input })) });
      }
    }
    const bar = process.stderr.isTTY && !options.json
      ? new cliProgress.SingleBar({ format: 'items {bar} {value}/{total} final | {succeeded} ok {failed} failed | {eta_formatted} left', stream: process.stderr }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(options.items, 0, { succeeded: 0, failed: 0 });
    const deadline = started + options.timeoutSec * 1000;
    for (;;) {
      // A database restart mid-run is survived: the workers retry, and so does this wait.
      const c = await runProgress(ctx.db, `${runId}-`).then(
        (progress) => progress,
        (err: unknown) => (log.warn({ err: (err as Error).message }, 'progress check failed; retrying'), undefined),
      );
      if (c) bar?.update(c.ok + c.bad, { succeeded: c.ok, failed: c.bad });
      if ((c && c.ok + c.bad >= options.items) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    bar?.stop();
    const summary = await summarizeRun(ctx.db, `${runId}-`);
    return { runId, scenario: options.scenario, seconds: Math.round((Date.now() - started) / 100) / 10, ...summary, simulator: sim?.stats() };
  } finally {
    await fleet.close(5_000);
    await ctx.close();
    await sim?.close();
  }
}

/**
 * The demo's simulator lives in its process: batches an earlier run left open at a simulator that
 * is gone can never finish. Only batches whose provider ids the new simulator does not know are
 * touched (another fleet's batches at a live provider are left alone): they end as failed (nothing
 * executed), so their items go back to the queue and complete in this run, and built batches that
 * had uploaded their file to the gone simulator upload it again.
 */
async function releaseWorkOfStoppedSimulators(ctx: PipelineContext): Promise<void> {
  const open = await batches.openBatches(ctx.db, ctx.now());
  const gone: string[] = [];
  const forget: string[] = [];
  for (const b of open) {
    const providerId = b.providerBatchId;
    if (providerId && !(await ctx.provider.retrieveBatch(providerId).then(() => true, () => false))) gone.push(b.id);
    else if (!providerId && b.status === 'submitting') gone.push(b.id);
    else if (b.status === 'built' && b.inputFileId) forget.push(b.id);
  }
  for (const id of await batches.failGoneProviderBatches(ctx.db, gone, ctx.now())) await enqueueProcess(ctx, id);
  await batches.forgetUploads(ctx.db, forget);
}

export function formatSummary(s: Awaited<ReturnType<typeof runDemo>>): string {
  const pct = s.syncCostUsd > 0 ? ((1 - s.costUsd / s.syncCostUsd) * 100).toFixed(1) : '0';
  const lines = [
    `batchfleet demo ${s.runId} (scenario ${s.scenario}) in ${s.seconds} s`,
    `  items      ${s.items}: ${s.succeeded} succeeded, ${s.failed} failed, ${s.pending} not final`,
    `  batches    ${s.batches}`,
    `  tokens     ${s.inputTokens} input, ${s.outputTokens} output`,
    `  cost       $${s.costUsd.toFixed(6)} at batch price vs $${s.syncCostUsd.toFixed(6)} synchronous (saved ${pct}%)`,
  ];
  if (s.failed > 0) lines.push(`  failures   ${Object.entries(s.failuresByReason).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  return lines.join('\n');
}
