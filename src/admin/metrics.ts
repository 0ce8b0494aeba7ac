/*
 * `/metrics`: one prom-client registry per admin server, filled on each scrape from PostgreSQL,
 * Redis and BullMQ (the source of truth, so every replica of the admin server reports the same
 * numbers), merged with this process's provider-call metrics (`src/monitoring/provider-metrics.ts`).
 * A scrape runs each section with a timeout; a section that fails (Redis or PostgreSQL down) is
 * logged and counted in `batchfleet_metrics_collect_errors_total` and the rest is still served.
 * Concurrent scrapes share one collection.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { PipelineContext } from '../pipeline/context.ts';
import { budgetReport, queueCounts } from '../monitoring/stats.ts';
import { batchCounts, costByTask, failedItemCounts, failuresSince, itemCounts, rejectionCounts, stuckCounts } from '../store/read-models/index.ts';
import { processRegistry } from '../monitoring/provider-metrics.ts';

/** Window of the `batchfleet_recent_*` failure series. */
export const RECENT_WINDOW_MS = 60 * 60_000;

export interface MetricsCollector {
  /** Metrics of this server instance (webhook counters live here too). */
  registry: Registry;
  webhookEvents: Counter<'outcome'>;
  contentType: string;
  /** Collects from the stores and renders the Prometheus text exposition. */
  render(): Promise<string>;
}

function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function createMetricsCollector(ctx: PipelineContext, options: { timeoutMs?: number } = {}): MetricsCollector {
  const registry = new Registry();
  const timeoutMs = options.timeoutMs ?? 5_000;
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter<L>({ name, help, labelNames, registers: [registry] });

  const m = {
    items: gauge('batchfleet_items', 'Items by task and status (PostgreSQL).', ['task', 'status']),
    batches: gauge('batchfleet_batches', 'Batches by task, model and status (PostgreSQL).', ['task', 'model', 'status']),
    queueJobs: gauge('batchfleet_queue_jobs', 'BullMQ jobs by queue and state.', ['queue', 'state']),
    reserved: gauge('batchfleet_budget_reserved_tokens', 'Enqueued tokens reserved in the Redis budget, per model.', ['model']),
    reservations: gauge('batchfleet_budget_reservations', 'Batches holding a budget reservation, per model.', ['model']),
    limit: gauge('batchfleet_budget_limit_tokens', 'Enqueued-token limit per model: configured, learned (from token_limit_exceeded) and effective (gating submission).', ['model', 'kind']),
    utilization: gauge('batchfleet_budget_utilization_ratio', 'Reserved tokens / effective limit, per model.', ['model']),
    held: gauge('batchfleet_held_batches', 'Built batches held back from submission (budget, spend cap), per model.', ['model']),
    heldWait: gauge('batchfleet_held_oldest_wait_seconds', 'How long the oldest held batch of a model has waited.', ['model']),
    cost: counter('batchfleet_cost_usd_total', 'Spend at Batch prices (recorded per attempt), per task, USD.', ['task']),
    syncCost: counter('batchfleet_sync_cost_usd_total', 'What the same usage costs at synchronous prices, per task, USD.', ['task']),
    savings: counter('batchfleet_savings_usd_total', 'Synchronous cost minus Batch cost, per task, USD.', ['task']),
    failedItems: gauge('batchfleet_failed_items', 'Permanently failed items (dead letter) by task and cause (items.error_code).', ['task', 'cause']),
    recentFailures: gauge('batchfleet_recent_failures', 'Failed attempts in the last hour by task, model and cause (attempts.error_code).', ['task', 'model', 'cause']),
    recentAttempts: gauge('batchfleet_recent_attempts', 'Attempts that ran at the provider in the last hour, by task (failure-rate denominator).', ['task']),
    stuck: gauge('batchfleet_stuck_batches', 'Unprocessed batches whose status has not changed for longer than STUCK_AFTER_MS.', []),
    stuckByStatus: gauge('batchfleet_stuck_batches_by_status', 'Stuck batches by status.', ['status']),
    rejections: counter('batchfleet_intake_rejections_total', 'Rejected intake payloads and items, by task ("unknown" for a task not in the registry, or none).', ['task']),
    collectErrors: counter('batchfleet_metrics_collect_errors_total', 'Scrape sections that failed (store unreachable or slow).', ['section']),
    webhookEvents: counter('batchfleet_webhook_events_total', 'OpenAI webhook deliveries received by this server, by outcome.', ['outcome']),
  };
  m.stuck.set(0);

  // Label values come only from the task registry: a producer-supplied task name (1 MB long, or one per
  // payload) would otherwise become a series of its own. Everything else is counted as `unknown`.
  const taskLabel = (task: string | null | undefined): string => (task && ctx.registry.has(task) ? task : 'unknown');

  const setCounter = <L extends string>(c: Counter<L>, rows: Array<{ labels: Partial<Record<L, string>>; value: number }>) => {
    c.reset();
    for (const r of rows) c.inc(r.labels, Math.max(0, r.value));
  };

  const sections: Record<string, () => Promise<void>> = {
    items: async () => {
      const rows = await itemCounts(ctx.db);
      m.items.reset();
      for (const r of rows) m.items.inc({ task: taskLabel(r.task), status: r.status }, r.count);
    },
    batches: async () => {
      const rows = await batchCounts(ctx.db);
      m.batches.reset();
      for (const r of rows) m.batches.inc({ task: taskLabel(r.task), model: r.model, status: r.status }, r.count);
    },
    queues: async () => {
      for (const task of ctx.registry.names()) ctx.queues.resultsFor(task);
      const rows = await queueCounts(ctx.queues.all());
      m.queueJobs.reset();
      for (const q of rows) for (const [state, n] of Object.entries(q.counts)) m.queueJobs.set({ queue: q.queue, state }, n);
    },
    budget: async () => {
      const rows = await budgetReport(ctx);
      for (const g of [m.reserved, m.reservations, m.limit, m.utilization, m.held, m.heldWait]) g.reset();
      for (const r of rows) {
        m.reserved.set({ model: r.model }, r.reservedTokens);
        m.reservations.set({ model: r.model }, r.reservations);
        m.limit.set({ model: r.model, kind: 'configured' }, r.configured);
        if (r.learned !== null) m.limit.set({ model: r.model, kind: 'learned' }, r.learned);
        m.limit.set({ model: r.model, kind: 'effective' }, r.effective);
        m.utilization.set({ model: r.model }, r.utilization);
        m.held.set({ model: r.model }, r.heldBatches);
        m.heldWait.set({ model: r.model }, (r.oldestWaitMs ?? 0) / 1000);
      }
    },
    cost: async () => {
      const rows = await costByTask(ctx.db);
      setCounter(m.cost, rows.map((r) => ({ labels: { task: taskLabel(r.task) }, value: r.costUsd })));
      setCounter(m.syncCost, rows.map((r) => ({ labels: { task: taskLabel(r.task) }, value: r.syncCostUsd })));
      setCounter(m.savings, rows.map((r) => ({ labels: { task: taskLabel(r.task) }, value: r.syncCostUsd - r.costUsd })));
    },
    failures: async () => {
      const [dead, recent] = await Promise.all([failedItemCounts(ctx.db), failuresSince(ctx.db, new Date(ctx.now().getTime() - RECENT_WINDOW_MS))]);
      m.failedItems.reset();
      for (const r of dead) m.failedItems.inc({ task: taskLabel(r.task), cause: r.cause }, r.count);
      m.recentFailures.reset();
      for (const r of recent.rows) m.recentFailures.inc({ task: taskLabel(r.task), model: r.model, cause: r.cause }, r.failures);
      m.recentAttempts.reset();
      for (const [task, t] of recent.attemptsByTask) m.recentAttempts.inc({ task: taskLabel(task) }, t.attempts);
    },
    stuck: async () => {
      const rows = await stuckCounts(ctx.db, ctx.config.stuckAfterMs, ctx.now());
      m.stuck.set(rows.reduce((n, r) => n + r.count, 0));
      m.stuckByStatus.reset();
      for (const r of rows) m.stuckByStatus.set({ status: r.status }, r.count);
    },
    rejections: async () => {
      const rows = await rejectionCounts(ctx.db);
      setCounter(m.rejections, rows.map((r) => ({ labels: { task: taskLabel(r.task) }, value: r.count })));
    },
  };

  let inFlight: Promise<string> | undefined;
  const collect = async (): Promise<string> => {
    await Promise.all(
      Object.entries(sections).map(async ([section, run]) => {
        try {
          await withTimeout(`metrics section ${section}`, timeoutMs, run());
        } catch (err) {
          m.collectErrors.inc({ section });
          ctx.log.warn({ section, err: (err as Error).message }, 'metrics: a section could not be collected');
        }
      }),
    );
    return Registry.merge([registry, processRegistry]).metrics();
  };

  return {
    registry,
    webhookEvents: m.webhookEvents,
    contentType: registry.contentType,
    render() {
      inFlight ??= collect().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}
