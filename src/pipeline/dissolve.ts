import { execute } from '../db/sql.ts';
import type { PipelineContext } from './context.ts';
import { triggerBuild } from './triggers.ts';

/**
 * Closes a batch that can never be accepted because it holds more tokens than its model's limit
 * now allows (the provider revealed a lower limit). Its items go back to the queue without
 * spending an attempt, and the builder packs them again under the current limit.
 */
export async function dissolveBatch(
  ctx: PipelineContext,
  batch: { id: string; task: string; model: string; status: string },
  reason: string,
): Promise<boolean> {
  const closed = await execute(
    ctx.db,
    `update batches set status = 'processed', processed_at = now(), status_changed_at = now(), held_reason = null,
            previous_provider_ids = case when provider_batch_id is null then previous_provider_ids else array_append(previous_provider_ids, provider_batch_id) end,
            provider_batch_id = null, last_error = $3
      where id = $1::uuid and status = $2`,
    batch.id,
    batch.status,
    `dissolved: ${reason}`.slice(0, 1_000),
  );
  if (closed === 0) return false;
  await execute(ctx.db, `update items set status = 'queued', batch_id = null, updated_at = now() where batch_id = $1::uuid and status in ('batched', 'submitted')`, batch.id);
  await ctx.budget.release(batch.model, batch.id);
  await triggerBuild(ctx.queues, batch.task);
  ctx.log.warn({ batchId: batch.id, reason }, 'batch dissolved; its items will be packed again');
  return true;
}
