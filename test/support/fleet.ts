import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logging/index.ts';
import { ROLES, type Role } from '../../src/queues/names.ts';
import { createContext, type OwnedContext } from '../../src/runtime/context.ts';
import { startFleet, type Fleet } from '../../src/runtime/fleet.ts';
import { startSimulator, type SimulatorHandle } from 'openai-batch-simulator';
import { exampleRegistry } from '../../src/tasks/index.ts';
import type { TaskRegistry } from '../../src/tasks/registry.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { deletePrefix, REDIS_URL, testPrefix } from './redis.ts';

/** Every harness opened and not yet closed: the leak guard fails a test file that leaves one running. */
export const openHarnesses = new Set<TestHarness>();

export interface TestHarness {
  ctx: OwnedContext;
  fleet: Fleet | undefined;
  sim: SimulatorHandle;
  database: TestDatabase;
  prefix: string;
  config: Config;
  startFleet(roles?: readonly Role[]): Promise<Fleet>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  scenario?: string | Record<string, unknown>;
  seed?: number;
  registry?: TaskRegistry;
  env?: Record<string, string>;
  simulator?: Parameters<typeof startSimulator>[0];
  roles?: readonly Role[] | false;
  /** Use this API key, as a real deployment would (the provider is still this harness's simulator). */
  apiKey?: string;
  /** The fleet's clock (default: the wall clock); tests move time forward with it. */
  now?: () => Date;
  /** Where the fleet's logs go (default: stdout). */
  logDestination?: { write(chunk: string): void };
}

/**
 * A private world for one test: its own PostgreSQL schema, its own BullMQ prefix, its own
 * simulator on a random port and its own data directory, so test files run in parallel.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<TestHarness> {
  const database = await createTestDatabase();
  const prefix = testPrefix('harness');
  const dataDir = await mkdtemp(join(tmpdir(), 'batchfleet-test-'));
  const sim = await startSimulator({ port: 0, seed: options.seed ?? 1, ...(options.scenario ? { scenario: options.scenario as never } : {}), ...options.simulator });
  const config = loadConfig({
    DATABASE_URL: database.url,
    REDIS_URL,
    BATCHFLEET_PREFIX: prefix,
    DATA_DIR: dataDir,
    SIMULATOR_URL: sim.url,
    POLL_MIN_MS: '100',
    POLL_MAX_MS: '500',
    RECONCILE_EVERY_MS: '0',
    // Shorter than the 60 s default so a refused create retried in a test is not held for a minute.
    PROVIDER_VISIBILITY_MS: '10000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...(options.apiKey ? { OPENAI_API_KEY: options.apiKey, OPENAI_BASE_URL: sim.url } : {}),
    ...options.env,
  });
  const log = createLogger({ level: config.log.level, pretty: false, showBodies: config.log.bodies, destination: options.logDestination });
  const ctx = createContext(config, options.registry ?? exampleRegistry(), { db: database.db, log, ...(options.now ? { now: options.now } : {}) });
  const harness: TestHarness = {
    ctx,
    fleet: undefined,
    sim,
    database,
    prefix,
    config,
    async startFleet(roles = ROLES) {
      harness.fleet = await startFleet(ctx, roles, { reconcile: false });
      return harness.fleet;
    },
    async close() {
      openHarnesses.delete(harness);
      await harness.fleet?.close(5_000);
      await ctx.close();
      await ctx.redis.quit().catch(() => undefined);
      await sim.close();
      await deletePrefix(prefix);
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  openHarnesses.add(harness);
  if (options.roles !== false) await harness.startFleet(options.roles || undefined);
  return harness;
}
