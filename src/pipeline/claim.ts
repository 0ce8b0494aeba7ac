/*
 * The claim shared by the batch builder and the sync stage: one transaction opens a batch row in
 * `building` and moves queued items of one task into it under row locks that skip locked rows, so two
 * workers (in any processes, in any mode) never take the same item.
 */
import type { BatchMode } from '../store/batch-states.ts';
import * as batches from '../store/batches.ts';
import { rawTransaction } from '../store/db.ts';
import * as items from '../store/items.ts';
import type { ClaimCaps } from '../store/items.ts';
import type { AnyTask } from '../tasks/contract.ts';
import type { PipelineContext } from './context.ts';
import { triggerBuild } from './triggers.ts';

export type { ClaimCaps };

/**
 * Opens batch `batchId` (status `building`) and claims queued, available items of `task` into it,
 * oldest first, within `caps`. Returns the claimed items; when there are none the row is dropped.
 */
export async function claimItems(
  ctx: PipelineContext,
  task: AnyTask,
  batchId: string,
  caps: ClaimCaps,
  mode: BatchMode,
  lease?: { owner: string; until: Date },
): Promise<Array<{ id: string; estimatedTokens: number; estimatedBytes: number }>> {
  const at = ctx.now();
  try {
    return await rawTransaction(ctx.db, async (tx) => {
      await batches.create(tx, { id: batchId, task: task.name, model: task.model, endpoint: task.endpoint, mode, at, lease });
      const claimed = await items.claim(tx, { task: task.name, batchId, caps, at });
      if (claimed.length === 0) throw new NothingClaimed();
      return claimed;
    });
  } catch (err) {
    if (err instanceof NothingClaimed) return [];
    throw err;
  }
}

/** Rolls back a claim that found nothing, batch row included: an empty claim leaves nothing behind, not even a dead row. */
class NothingClaimed extends Error {}

/** Items waiting for a retry delay get a delayed build for when the first of them becomes available. */
export async function scheduleNextAvailable(ctx: PipelineContext, task: string): Promise<void> {
  const waitMs = await items.nextAvailableInMs(ctx.db, task, ctx.now());
  if (waitMs != null) await triggerBuild(ctx, task, Math.max(1, Math.ceil(waitMs)));
}
