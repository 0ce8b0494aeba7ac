/**
 * Recording results, shared by process (batch lines) and sync (single requests): one
 * transaction per chunk records the attempts and moves the items (the store's idempotency gate),
 * runs each final item's hook in that same transaction under a savepoint, and, after commit,
 * publishes final results on the task's results queue under its delivery settings.
 */
import { costPair } from '../pricing/index.ts';
import { hooksEnabled } from '../queues/result-jobs.ts';
import { publishResults } from '../queues/result-publisher.ts';
import { rawTransaction, type DbTx } from '../store/db.ts';
import type { PendingItem } from '../store/items.ts';
import * as results from '../store/results.ts';
import type { Decision, RecordedItem } from '../store/results.ts';
import type { AnyTask } from '../tasks/contract.ts';
import type { PipelineContext } from './context.ts';
import type { PolicyDecision } from './retry-policy.ts';
import type { Usage } from './verdicts.ts';

/** No usage, no cost: an item its batch never ran. */
export const NO_COST = { costUsd: 0, syncCostUsd: 0 } as const;

/** The cost of `usage` on `model`; `syncPrice` charges the synchronous price (sync mode). */
export function costOf(ctx: Pick<PipelineContext, 'prices'>, model: string, usage: Usage, syncPrice = false): { costUsd: number; syncCostUsd: number } {
  const { costUsd, syncCostUsd } = costPair(usage, model, ctx.prices);
  return { costUsd: syncPrice ? syncCostUsd : costUsd, syncCostUsd };
}

/**
 * The row `recordResults` writes: the policy's decision, completed in place with its usage and
 * cost (property stores on the fresh object `decide` returned; no spread, no second object).
 */
export function decisionRow(d: PolicyDecision, usage: Usage, cost: { costUsd: number; syncCostUsd: number }): Decision {
  const row = d as Decision;
  row.input_tokens = usage.inputTokens;
  row.cached_tokens = usage.cachedTokens;
  row.output_tokens = usage.outputTokens;
  row.cost_usd = cost.costUsd;
  row.sync_cost_usd = cost.syncCostUsd;
  return row;
}

/** Whether recording `task`'s results runs its `onResult`/`onFailure` hooks (it has one, and the hook channel is on). */
export function runsHooks(task: AnyTask): boolean {
  return Boolean(task.onResult || task.onFailure) && hooksEnabled(task);
}

/** Records one chunk of decisions of a batch, runs hooks, then announces the final ones. */
export async function recordResults(
  ctx: PipelineContext,
  task: AnyTask,
  batchId: string,
  decisions: readonly Decision[],
  items: ReadonlyMap<string, PendingItem>,
): Promise<RecordedItem[]> {
  if (decisions.length === 0) return [];
  const withHooks = runsHooks(task);
  const record = async (tx: DbTx) => {
    const moved = await results.recordDecisions(tx, batchId, decisions, ctx.now());
    const finals = moved.filter((row) => row.status === 'succeeded' || row.status === 'failed');
    if (withHooks) for (const row of finals) await runHook(ctx, tx, task, row, items.get(row.id)!);
    return { moved, finals };
  };
  // Hooks get Prisma's typed client in the transaction; without hooks the chunk's statements run
  // on a pool connection directly (Prisma's request path costs ~10 ms of CPU per 1,000 results).
  const { moved, finals } = withHooks ? await ctx.db.$transaction(record, { timeout: 120_000, maxWait: 30_000 }) : await rawTransaction(ctx.db, record);
  if (finals.length > 0) await publishResults(ctx.queues.resultsFor(task.name), ctx.redis, task, finals);
  return moved;
}

/** Runs onResult / onFailure under a savepoint: a throwing hook is logged and rolled back alone. */
async function runHook(ctx: PipelineContext, tx: DbTx, task: AnyTask, row: RecordedItem, item: PendingItem): Promise<void> {
  const hook = row.status === 'succeeded' ? task.onResult : task.onFailure;
  if (!hook) return;
  const log = ctx.log.child({ itemId: row.id, task: task.name });
  const outcome = await results.withSavepoint(tx, async () => {
    if (row.status === 'succeeded') {
      await task.onResult!({ itemId: row.id, externalId: item.externalId, input: item.input, output: row.output, tx, log });
    } else {
      await task.onFailure!({ itemId: row.id, externalId: item.externalId, input: item.input, code: row.error_code ?? 'failed', message: row.error_message ?? '', tx, log });
    }
  });
  if (!outcome.ok) log.error({ err: outcome.error }, `${row.status === 'succeeded' ? 'onResult' : 'onFailure'} hook threw; the result is kept`);
}
