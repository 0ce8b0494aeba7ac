/**
 * Starting and stopping a simulator: in-process ({@link startSimulator}) for tests and demos, or
 * from the command line ({@link runSimulatorCli}: `npx openai-batch-simulator`).
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { BatchEngine } from './batch-engine.ts';
import { createSimClock, type SimClock } from './clock.ts';
import { FileStore } from './file-store.ts';
import { loadScenario, type Scenario, type ScenarioInput } from './scenarios.ts';
import type { SimContext } from './server/context.ts';
import { createHttpServer } from './server/http.ts';
import { batchRoutes } from './server/routes-batches.ts';
import { fileRoutes } from './server/routes-files.ts';
import { inferenceRoutes } from './server/routes-inference.ts';
import { inspectRoutes } from './server/routes-inspect.ts';
import type { ProjectKeys } from './ids.ts';
import { PromptCache } from './prompt-cache.ts';
import { StatsTracker, type SimulatorStats } from './stats.ts';
import { createCheapCounter, createReferenceCounter, withDrift, type TokenCounter } from './tokens/reference-counter.ts';
import { WebhookDispatcher } from './webhooks.ts';

/** A running simulator. */
export interface SimulatorHandle {
  /** Base URL including `/v1`, for `new OpenAI({ baseURL })`. */
  url: string;
  port: number;
  /** The inspection report (same as `GET /_simulator/stats`). */
  stats(): SimulatorStats;
  /** The simulated clock: `clock.advance(seconds)` moves every batch along. */
  clock: SimClock;
  /** The resolved scenario in effect. */
  scenario: Scenario;
  /** Resolves once background validation and result writing have settled (for tests). */
  idle(): Promise<void>;
  /** Clear all files, batches and stats. */
  reset(): Promise<void>;
  /** Stop the server, timers and webhook deliveries, and remove the data directory. */
  close(): Promise<void>;
}

/** Options of {@link startSimulator}; each overrides the scenario's value. */
export interface SimulatorOptions {
  /** 0 (default) = a random free port. */
  port?: number;
  /** @defaultValue "127.0.0.1" */
  host?: string;
  /**
   * A named scenario, a path to a JSON scenario file, or a scenario object (partial objects get
   * the defaults; `extends` works). @defaultValue "happy"
   */
  scenario?: string | Scenario | ScenarioInput;
  seed?: number;
  /** Simulated seconds per real second (0 = frozen: only `clock.advance` moves time). */
  timeScale?: number;
  /** Parent directory for stored files (a private subdirectory is created and removed on close). */
  dataDir?: string;
  /** Enqueued-token limits per model, merged over the scenario's. */
  tokenLimits?: Record<string, number>;
  /** Where to POST signed batch events. */
  webhook?: { url: string; secret: string };
  /** Every key belongs to this organization id (default: one organization per project). */
  organization?: string;
  /** API keys grouped by project, merged over the scenario's `projects` (see `projectForKey`). */
  projects?: ProjectKeys;
  /** Estimator drift: real usage = reference count × (1 + drift); overrides `scenario.tokens.drift`. */
  drift?: number;
  /** Receives lifecycle lines only: never keys or bodies. @defaultValue silent */
  logger?: { info(...a: unknown[]): void; warn(...a: unknown[]): void };
  /**
   * The token truth: what requests "really" cost (usage and the enqueued-token limit). Default:
   * the simulator's own reference counter (the cheap one in `instant` execution). Drift applies on top.
   */
  tokenCounter?: TokenCounter;
  /** Use this clock instead of a new one (its time scale wins over `timeScale`). */
  clock?: SimClock;
}

const SILENT = { info: () => undefined, warn: () => undefined };

/** Start a simulator listening on HTTP. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const base = loadScenario(options.scenario ?? 'happy');
  const scenario: Scenario = {
    ...base,
    seed: options.seed ?? base.seed,
    timeScale: options.timeScale ?? base.timeScale,
    webhook: { ...base.webhook, ...(options.webhook ?? {}) },
    tokens: { ...base.tokens, drift: options.drift ?? base.tokens.drift },
    projects: { ...base.projects, ...Object.fromEntries(Object.entries(options.projects ?? {}).map(([k, v]) => [k, [...v]])) },
  };
  if (!Number.isFinite(scenario.tokens.drift) || scenario.tokens.drift <= -0.9 || scenario.tokens.drift > 10) {
    throw new Error(`simulator drift must be a number in (-0.9, 10], got ${String(scenario.tokens.drift)}`);
  }
  const logger = options.logger ?? SILENT;
  if (Boolean(scenario.webhook.url) !== Boolean(scenario.webhook.secret)) {
    throw new Error('simulator webhooks need both a url and a secret (scenario.webhook or options.webhook)');
  }
  const clock = options.clock ?? createSimClock({ timeScale: scenario.timeScale });
  const files = await FileStore.create(options.dataDir);
  const stats = new StatsTracker();
  const truth =
    options.tokenCounter ??
    (scenario.execution === 'instant' ? createCheapCounter() : createReferenceCounter({ remoteImageSize: scenario.tokens.remoteImageSize }));
  const counter = withDrift(truth, scenario.tokens.drift);
  const promptCache = scenario.usage.promptCaching ? new PromptCache(scenario.usage.cacheTtlSeconds * 1000) : null;
  const hook = scenario.webhook;
  const webhooks =
    hook.url && hook.secret
      ? new WebhookDispatcher({ ...hook, url: hook.url, secret: hook.secret }, clock, scenario.seed, stats, logger)
      : null;
  const engine = new BatchEngine({
    scenario,
    clock,
    files,
    stats,
    counter,
    promptCache,
    tokenLimits: options.tokenLimits ?? {},
    logger,
    onTerminal: (type, id, at) => webhooks?.send(type, id, at),
  });

  const sim: SimContext = {
    scenario,
    clock,
    files,
    engine,
    stats,
    counter,
    promptCache,
    logger,
    organizationOverride: options.organization,
    createCounter: { n: 0 },
    uploadCounter: { n: 0 },
    syncCounter: { n: 0 },
    snapshot: () =>
      stats.snapshot(
        { scenario: scenario.name, seed: scenario.seed, timeScale: clock.timeScale, now: clock.nowSeconds() },
        (client) => engine.live(client),
      ),
    reset: async () => {
      await engine.clear();
      await files.clear();
      promptCache?.clear();
      stats.reset();
    },
  };

  const server = createHttpServer(sim, [...fileRoutes, ...batchRoutes, ...inferenceRoutes, ...inspectRoutes]);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  logger.info('simulator: listening', { url: `http://${urlHost}:${port}/v1`, scenario: scenario.name, seed: scenario.seed, timeScale: scenario.timeScale });

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    clock,
    scenario,
    stats: () => sim.snapshot(),
    idle: () => engine.idle(),
    reset: () => sim.reset(),
    close: () => {
      closing ??= (async () => {
        webhooks?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await engine.close();
        if (!options.clock) clock.close();
        await files.close();
      })();
      return closing;
    },
  };
}

const USAGE = `usage: openai-batch-simulator [--port <p>] [--host <h>] [--scenario <name|file>] [--seed <n>]
                              [--time-scale <x>] [--drift <x>] [--data-dir <dir>]
                              [--webhook-url <url> --webhook-secret <whsec_…>]
scenarios: happy, flaky, hostile, token-limit, realistic, instant, or a path to a JSON file`;

/**
 * Run the simulator from the command line until SIGINT/SIGTERM:
 * `npx openai-batch-simulator --port 8787 --scenario hostile --seed 7 --time-scale 2000`.
 * A leading `simulator` argument is ignored.
 */
export async function runSimulatorCli(argv: string[]): Promise<void> {
  const args = argv[0] === 'simulator' ? argv.slice(1) : argv;
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '8787' },
      host: { type: 'string', default: '127.0.0.1' },
      scenario: { type: 'string', default: 'happy' },
      seed: { type: 'string' },
      'time-scale': { type: 'string' },
      drift: { type: 'string' },
      'data-dir': { type: 'string' },
      'webhook-url': { type: 'string' },
      'webhook-secret': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"\n${USAGE}`);
    return n;
  };
  if (Boolean(values['webhook-url']) !== Boolean(values['webhook-secret'])) {
    throw new Error(`--webhook-url and --webhook-secret go together\n${USAGE}`);
  }
  const logger = {
    info: (...a: unknown[]) => console.log(...a),
    warn: (...a: unknown[]) => console.warn(...a),
  };
  const handle = await startSimulator({
    port: num('port', values.port),
    host: values.host,
    scenario: values.scenario,
    seed: num('seed', values.seed),
    timeScale: num('time-scale', values['time-scale']),
    drift: num('drift', values.drift),
    dataDir: values['data-dir'],
    webhook: values['webhook-url'] && values['webhook-secret'] ? { url: values['webhook-url'], secret: values['webhook-secret'] } : undefined,
    logger,
  });
  console.log(`openai-batch-simulator: ${handle.url} (scenario ${handle.scenario.name}, seed ${handle.scenario.seed}, time x${handle.clock.timeScale})`);
  console.log(`set OPENAI_BASE_URL=${handle.url} with any OPENAI_API_KEY; stats at ${handle.url.replace(/\/v1$/, '')}/_simulator/stats`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void handle.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
