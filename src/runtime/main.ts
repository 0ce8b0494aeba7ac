import { loadConfig } from '../config.ts';
import { ensureDatabase } from '../store/db.ts';
import type { TaskRegistry } from '../tasks/registry.ts';
import { loadRegistry } from './load-registry.ts';
import { ROLES, type Role } from '../queues/names.ts';
import { createContext } from './context.ts';
import { startFleet } from './fleet.ts';
import { startProcessServer, type ProcessServer } from '../monitoring/process-server.ts';
import { checkConnections, classifyConnectionError } from './connection-errors.ts';

export { loadRegistry } from './load-registry.ts';

/** How long a starting worker waits for PostgreSQL and Redis before it exits saying which is missing. */
const STARTUP_CHECK_MS = 15_000;

/**
 * Runs the given worker roles until SIGTERM/SIGINT, then shuts down within SHUTDOWN_TIMEOUT_MS:
 * stop taking jobs, finish or hand back active ones, close connections, exit 0.
 * Rejects with a ConnectionError (one line saying what to do) when PostgreSQL or Redis cannot be
 * used at start-up: unreachable, refusing the login, or without the batchfleet tables.
 */
export async function runWorkers(roles: readonly Role[] = ROLES, registry?: TaskRegistry): Promise<void> {
  const config = loadConfig();
  registry ??= await loadRegistry(config.tasksModule);
  await ensureDatabase(config.databaseUrl).catch((err: unknown) => {
    throw classifyConnectionError(err, config, 'database') ?? err;
  });
  const ctx = createContext(config, registry);
  try {
    await checkConnections({ databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, redis: ctx.redis }, { timeoutMs: STARTUP_CHECK_MS });
  } catch (err) {
    ctx.redis.disconnect(); // not close(): closing queues waits for a Redis that may never answer
    await ctx.db.$disconnect().catch(() => undefined);
    throw err;
  }
  let fleetStarting: Promise<Awaited<ReturnType<typeof startFleet>>> | undefined;
  let stopping = false;
  let metricsServer: ProcessServer | undefined;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ctx.log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    const started = Date.now();
    const fleet = await fleetStarting;
    await fleet?.close();
    await metricsServer?.close();
    await ctx.close();
    ctx.log.info({ ms: Date.now() - started }, 'stopped');
    ctx.log.flush?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('unhandledRejection', (err) => ctx.log.error({ err }, 'unhandled rejection'));
  if (config.metrics.port > 0) {
    const { port, host, token } = config.metrics;
    metricsServer = await startProcessServer({ port, host, token, roles, healthy: () => !stopping, log: ctx.log }).catch((err: Error) => {
      // A taken port must not stop the work (several local processes share the default); probes will notice.
      ctx.log.error({ err: err.message, port }, 'metrics server could not listen: set METRICS_PORT to a free port (0 turns it off)');
      return undefined;
    });
  }
  fleetStarting = startFleet(ctx, roles);
  await fleetStarting;
  ctx.log.info({ roles, prefix: config.prefix, simulated: config.provider.simulated }, 'workers started');
}
