/**
 * The admin server: Bull Board (basic auth, optional read-only), Prometheus `/metrics`,
 * `/healthz`, `/readyz` and the OpenAI webhook receiver. `runAdmin()` is the process entry
 * (`workers/admin.ts`); it also runs the alert monitor.
 */
import { loadConfig } from '../config.ts';
import { startAlertMonitor } from '../monitoring/alerts.ts';
import { collectProcessDefaults } from '../monitoring/process-server.ts';
import { createContext } from '../runtime/context.ts';
import { exampleRegistry } from '../tasks/index.ts';
import type { TaskRegistry } from '../tasks/registry.ts';
import { startAdminServer } from './server.ts';

export { createAdminApp, startAdminServer, WEBHOOK_PATH, type AdminServer, type AdminServerOptions } from './server.ts';
export { BOARD_PATH } from './board.ts';
export { createMetricsCollector, RECENT_WINDOW_MS, type MetricsCollector } from './metrics.ts';
export { wakePoll, type WebhookOutcome } from './webhooks.ts';

/**
 * Runs the admin server (and the alert monitor, every `alertEveryMs`) until SIGTERM/SIGINT.
 * Several replicas may run: alerts are de-duplicated through Redis.
 */
export async function runAdmin(registry: TaskRegistry = exampleRegistry(), options: { alertEveryMs?: number } = {}): Promise<void> {
  const config = loadConfig();
  const ctx = createContext(config, registry);
  collectProcessDefaults(); // process_* and nodejs_* series of the admin process too
  const server = await startAdminServer(ctx);
  const alerts = startAlertMonitor(ctx, { everyMs: options.alertEveryMs ?? 60_000, notifier: { dedupRedis: { redis: ctx.redis, prefix: config.prefix } } });
  void alerts.runOnce();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ctx.log.info({ signal }, 'admin server shutting down');
    alerts.stop();
    await server.close();
    await ctx.close();
    ctx.log.flush?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
