import type { BatchStatus } from '../store/batch-states.ts';
import * as batches from '../store/batches.ts';
import * as items from '../store/items.ts';
import type { PipelineContext } from './context.ts';
import { triggerBuild, wakeHeld } from './triggers.ts';

/**
 * Closes a batch that can never be accepted because it holds more tokens than its model's limit
 * now allows (the provider revealed a lower limit). Its items go back to the queue without
 * spending an attempt, and the builder packs them again under the current limit.
 */
export async function dissolveBatch(
  ctx: PipelineContext,
  batch: { id: string; task: string; model: string; status: BatchStatus },
  reason: string,
  options: { tokenLimitFailure?: boolean } = {},
): Promise<boolean> {
  const at = ctx.now();
  const closed = await batches.dissolve(ctx.db, { id: batch.id, from: batch.status, reason, countsAsTokenLimitFailure: options.tokenLimitFailure ?? false, at });
  if (!closed) return false;
  await items.releaseFromBatch(ctx.db, batch.id, at);
  await ctx.budget.release(batch.model, batch.id);
  await triggerBuild(ctx, batch.task);
  await wakeHeld(ctx, batch.model);
  ctx.log.warn({ batchId: batch.id, reason }, 'batch dissolved; its items will be packed again');
  return true;
}
