import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import pino from 'pino';
import { loadConfig, type Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { enqueueProcess } from '../pipeline/triggers.ts';
import { createRedis } from '../queues/connection.ts';
import { ROLES } from '../queues/names.ts';
import * as batches from '../store/batches.ts';
import { ensureDatabase } from '../store/db.ts';
import { runProgress, summarizeRun, type RunSummary } from '../store/read-models/index.ts';
import { createLogger } from '../logging/index.ts';
import { checkDatabase, checkRedis, classifyConnectionError, redactUrl } from '../runtime/connection-errors.ts';
import { createContext } from '../runtime/context.ts';
import { startFleet } from '../runtime/fleet.ts';
import { NAMED_SCENARIOS, startSimulator } from 'openai-batch-simulator';
import { exampleRegistry } from '../tasks/index.ts';
import { migrate } from './migrate.ts';
import { sampleItems, sampleItemsFor } from './samples.ts';

/** The PostgreSQL schema the demo keeps its tables in unless told otherwise. */
export const DEMO_SCHEMA = 'batchfleet_demo';
/** The Redis key prefix of the demo's queues and budget unless told otherwise. */
export const DEMO_PREFIX = 'batchfleet-demo';
/** External ids of demo items: `demo-<8 hex>-<n>` (one run id per run). */
const DEMO_ITEM = '^demo-[0-9a-f]{8}-[0-9]+$';

export interface DemoOptions {
  items: number;
  scenario: string;
  seed: number;
  json: boolean;
  timeoutSec: number;
  /** Only this example task (e.g. `responses-example`); default: classify-ticket and summarize-article. */
  task?: string;
  /** PostgreSQL schema for the demo's tables; undefined with `--main`: DATABASE_URL as configured. */
  schema: string | undefined;
  /** Redis prefix for the demo's queues; undefined with `--main`: BATCHFLEET_PREFIX as configured. */
  prefix: string | undefined;
  /** `--help`: print {@link DEMO_USAGE} and do nothing else. */
  help: boolean;
}

export const DEMO_USAGE = `usage: npm run demo -- [options]   (or: npx tsx workers/demo.ts [options])

Runs the simulator and every worker role in this process, enqueues sample items, waits until
each is final and prints a summary. By default it keeps to itself: its tables live in the
PostgreSQL schema "${DEMO_SCHEMA}" of DATABASE_URL's database (migrated on start) and its queues
under the Redis prefix "${DEMO_PREFIX}", so another fleet's data is never touched.

  --items <n>          sample items (default 1000)
  --scenario <name>    simulator scenario: ${NAMED_SCENARIOS.join(', ')}, or a scenario JSON file (default happy)
  --seed <n>           simulator seed (default 42)
  --task <task>        only this example task (default: classify-ticket and summarize-article)
  --timeout-sec <s>    give up waiting after this long (default 900)
  --json               print the summary as one JSON object on the last line
  --schema <name>      PostgreSQL schema for the demo's tables (default ${DEMO_SCHEMA})
  --prefix <prefix>    Redis key prefix for the demo's queues (default ${DEMO_PREFIX})
  --main               use DATABASE_URL and BATCHFLEET_PREFIX exactly as configured (the main
                       fleet's schema and queues): the demo's workers then also take that fleet's jobs
  --help               this text`;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const PREFIX = /^[A-Za-z0-9_{}.-]+$/;

/** A number option: `check` says whether it is acceptable; otherwise a ConfigError naming the flag. */
function numberOption(flag: string, value: string, what: string, check: (n: number) => boolean): number {
  const n = /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!check(n)) throw new ConfigError(`${flag} "${value}" is not ${what}; use e.g. ${flag} ${flag === '--timeout-sec' ? '600' : '100'}`);
  return n;
}

/** The demo's command line; every refusal is a ConfigError (one line, exit 2 from workers/demo.ts). */
export function parseDemoArgs(argv: string[]): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        items: { type: 'string', default: '1000' },
        scenario: { type: 'string', default: 'happy' },
        seed: { type: 'string', default: '42' },
        json: { type: 'boolean', default: false },
        'timeout-sec': { type: 'string', default: '900' },
        task: { type: 'string' },
        schema: { type: 'string', default: DEMO_SCHEMA },
        prefix: { type: 'string', default: DEMO_PREFIX },
        main: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message.split('. ')[0]}; see \`npm run demo -- --help\``);
  }
  const tasks = exampleRegistry().names();
  if (values.task !== undefined && !tasks.includes(values.task)) throw new ConfigError(`--task "${values.task}" is not an example task; use one of: ${tasks.join(', ')}`);
  const scenario = values.scenario!;
  if (!(NAMED_SCENARIOS as readonly string[]).includes(scenario) && !existsSync(scenario)) {
    throw new ConfigError(`--scenario "${scenario}" is not a scenario; use one of: ${NAMED_SCENARIOS.join(', ')}, or the path of a scenario JSON file`);
  }
  if (!IDENTIFIER.test(values.schema!)) throw new ConfigError(`--schema "${values.schema}" is not a plain PostgreSQL name; use letters, digits and _ (e.g. ${DEMO_SCHEMA})`);
  if (!PREFIX.test(values.prefix!)) throw new ConfigError(`--prefix "${values.prefix}" is not a valid prefix; use letters, digits, _ . - { } (e.g. ${DEMO_PREFIX})`);
  return {
    items: numberOption('--items', values.items!, 'a positive whole number', (n) => Number.isSafeInteger(n) && n >= 1),
    scenario,
    seed: numberOption('--seed', values.seed!, 'a whole number', (n) => Number.isSafeInteger(n)),
    json: values.json!,
    timeoutSec: numberOption('--timeout-sec', values['timeout-sec']!, 'a positive number of seconds', (n) => Number.isFinite(n) && n > 0),
    task: values.task,
    schema: values.main ? undefined : values.schema,
    prefix: values.main ? undefined : values.prefix,
    help: values.help!,
  };
}

/** `url` with its `?schema=` set to `schema`. */
export function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
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

/** What a demo run did, and where its data lives. */
export type DemoSummary = RunSummary & { runId: string; scenario: string; seconds: number; simulator: unknown; database: string; prefix: string };

/**
 * The main job: migrates the demo's schema, starts the simulator (unless a real key is set) and
 * every role in this process, enqueues sample items, waits until every item is final, and
 * returns a summary. Rejects with a ConnectionError or MigrationError when it cannot start.
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = Date.now();
  const configured = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
  const own: Config = {
    ...configured,
    databaseUrl: options.schema ? withSchema(configured.databaseUrl, options.schema) : configured.databaseUrl,
    prefix: options.prefix ?? configured.prefix,
  };
  await ensureDatabase(own.databaseUrl).catch((err: unknown) => {
    throw classifyConnectionError(err, own, 'database') ?? err;
  });
  await migrate(own.databaseUrl);
  await checkDatabase(own.databaseUrl);
  const probe = createRedis(own.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 3 ? null : 250 * n) });
  try {
    await checkRedis(probe, own.redisUrl);
  } finally {
    probe.disconnect();
  }

  const sim = own.provider.simulated ? await startSimulator({ port: 0, scenario: options.scenario, seed: options.seed }) : undefined;
  const config = demoConfig(own, sim?.url);
  const log = createLogger({ level: config.log.level, pretty: false, showBodies: config.log.bodies, destination: pino.destination({ dest: 2, sync: false }) });
  const ctx = createContext(config, exampleRegistry(), { log });
  let fleet: Awaited<ReturnType<typeof startFleet>> | undefined;
  const runId = `demo-${randomUUID().slice(0, 8)}`;
  try {
    if (sim) await releaseWorkOfStoppedSimulators(ctx);
    fleet = await startFleet(ctx, ROLES);
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
    return {
      runId,
      scenario: options.scenario,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      ...summary,
      simulator: sim?.stats(),
      database: redactUrl(own.databaseUrl),
      prefix: own.prefix,
    };
  } finally {
    await fleet?.close(5_000);
    await ctx.close();
    await sim?.close();
  }
}

/**
 * The demo's simulator lives in its process: batches an earlier run left open at a simulator that
 * is gone can never finish. Only the demo's own batches are looked at (every item in them is a
 * demo item, `demo-<run>-<n>`), so another fleet's batches sharing the schema (`--main`) are never
 * touched; of those, the ones whose provider ids the new simulator does not know end as failed
 * (nothing executed), so their items go back to the queue and complete in this run, and built
 * batches that had uploaded their file to the gone simulator upload it again.
 */
export async function releaseWorkOfStoppedSimulators(ctx: PipelineContext): Promise<{ failed: string[]; forgotten: string[] }> {
  const open = await batches.openBatches(ctx.db, ctx.now());
  const mine = new Set(await batches.holdingOnlyItemsMatching(ctx.db, open.map((b) => b.id), DEMO_ITEM));
  const gone: string[] = [];
  const forget: string[] = [];
  for (const b of open) {
    if (!mine.has(b.id)) continue;
    const providerId = b.providerBatchId;
    if (providerId && !(await ctx.provider.retrieveBatch(providerId).then(() => true, () => false))) gone.push(b.id);
    else if (!providerId && b.status === 'submitting') gone.push(b.id);
    else if (b.status === 'built' && b.inputFileId) forget.push(b.id);
  }
  const failed = await batches.failGoneProviderBatches(ctx.db, gone, ctx.now());
  for (const id of failed) await enqueueProcess(ctx, id);
  await batches.forgetUploads(ctx.db, forget);
  return { failed, forgotten: forget };
}

export function formatSummary(s: DemoSummary): string {
  const pct = s.syncCostUsd > 0 ? ((1 - s.costUsd / s.syncCostUsd) * 100).toFixed(1) : '0';
  const lines = [
    `batchfleet demo ${s.runId} (scenario ${s.scenario}) in ${s.seconds} s`,
    `  items      ${s.items}: ${s.succeeded} succeeded, ${s.failed} failed, ${s.pending} not final`,
    `  batches    ${s.batches}`,
    `  tokens     ${s.inputTokens} input, ${s.outputTokens} output`,
    `  cost       $${s.costUsd.toFixed(6)} at batch price vs $${s.syncCostUsd.toFixed(6)} synchronous (saved ${pct}%)`,
  ];
  if (s.failed > 0) lines.push(`  failures   ${Object.entries(s.failuresByReason).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  lines.push(`  inspect    DATABASE_URL='${s.database}' BATCHFLEET_PREFIX=${s.prefix} npx batchfleet status`);
  return lines.join('\n');
}
