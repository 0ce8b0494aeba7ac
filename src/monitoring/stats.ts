/**
 * Operator views that combine the read models (PostgreSQL) with Redis and BullMQ: queue counts and
 * the token budget. The SQL behind them lives in src/store/read-models.
 */
import type { Queue } from 'bullmq';
import type { PipelineContext } from '../pipeline/context.ts';
import { heldByModel, modelsInFlight } from '../store/read-models/index.ts';

/** BullMQ job states counted per queue. */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface QueueCounts {
  queue: string;
  counts: Record<JobState, number>;
}

/** Job counts of every queue, by state. */
export async function queueCounts(queues: readonly Queue[]): Promise<QueueCounts[]> {
  return Promise.all(
    queues.map(async (q) => {
      const raw = await q.getJobCounts(...JOB_STATES);
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, raw[s] ?? 0])) as Record<JobState, number>;
      return { queue: q.name, counts };
    }),
  );
}

export interface BudgetRow {
  model: string;
  /** TOKEN_LIMITS or the tier table. */
  configured: number;
  /** Learned from token_limit_exceeded, or null. */
  learned: number | null;
  /** What submission is gated on: min(configured, learned) minus the safety margin. */
  effective: number;
  /** Tokens reserved in Redis right now. */
  reservedTokens: number;
  /** Batches holding a reservation. */
  reservations: number;
  /** reservedTokens / effective (0 when effective is 0). */
  utilization: number;
  heldBatches: number;
  oldestHeldSince: Date | null;
  oldestWaitMs: number | null;
}

/**
 * Per model: limits, what is reserved in Redis and what waits. Models are those of the registered
 * tasks, those holding reservations and those of unprocessed batches.
 */
export async function budgetReport(ctx: Pick<PipelineContext, 'db' | 'budget' | 'limits' | 'registry' | 'now'>): Promise<BudgetRow[]> {
    const models = [...new Set([...ctx.registry.all().map((t) => t.model), ...(await ctx.budget.models()), ...(await modelsInFlight(ctx.db))])].sort();
  const held = await heldByModel(ctx.db, ctx.now());
  return Promise.all(
    models.map(async (model) => {
      const [view, snapshot] = await Promise.all([ctx.limits.view(model), ctx.budget.snapshot(model)]);
      const h = held.get(model);
      return {
        model,
        configured: view.configured,
        learned: view.learned,
        effective: view.effective,
        reservedTokens: snapshot.used,
        reservations: snapshot.reservations.size,
        utilization: view.effective > 0 ? Number((snapshot.used / view.effective).toFixed(4)) : 0,
        heldBatches: h?.count ?? 0,
        oldestHeldSince: h?.oldestSince ?? null,
        oldestWaitMs: h?.oldestWaitMs ?? null,
      };
    }),
  );
}
