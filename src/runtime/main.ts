import { loadConfig } from '../config.ts';
import { ensureDatabase } from '../store/db.ts';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exampleRegistry } from '../tasks/index.ts';
import { TaskRegistry } from '../tasks/registry.ts';
import type { AnyTask } from '../tasks/contract.ts';
import { ROLES, type Role } from '../queues/names.ts';
import { createContext } from './context.ts';
import { startFleet } from './fleet.ts';
import { startProcessServer, type ProcessServer } from '../monitoring/process-server.ts';

/**
 * Runs the given worker roles until SIGTERM/SIGINT, then shuts down within SHUTDOWN_TIMEOUT_MS:
 * stop taking jobs, finish or hand back active ones, close connections, exit 0.
 */
export async function runWorkers(roles: readonly Role[] = ROLES, registry?: TaskRegistry): Promise<void> {
  const config = loadConfig();
  registry ??= await loadRegistry(config.tasksModule);
  await ensureDatabase(config.databaseUrl);
  const ctx = createContext(config, registry);
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

/** The registry from BATCHFLEET_TASKS (default export: a TaskRegistry or an array of tasks), else the examples. */
export async function loadRegistry(modulePath: string | undefined): Promise<TaskRegistry> {
  if (!modulePath) return exampleRegistry();
  const mod = (await import(pathToFileURL(resolve(modulePath)).href)) as { default?: unknown };
  const value = mod.default;
  if (value instanceof TaskRegistry) return value;
  if (Array.isArray(value)) return new TaskRegistry(value as AnyTask[]);
  throw new Error(`BATCHFLEET_TASKS module ${modulePath} must default-export a TaskRegistry or an array of tasks`);
}
