/**
 * Build: claims queued items of one task (skip-locked row locks, so concurrent builders never
 * take the same item), packs them under the request, byte and token caps, and streams the JSONL.
 */
import * as batches from '../store/batches.ts';
import * as items from '../store/items.ts';
import { uuidv7 } from '../store/uuid7.ts';
import { resolveLimits } from '../tasks/contract.ts';
import { batchLines } from './batch-file.ts';
import { claimItems, scheduleNextAvailable } from './claim.ts';
import type { PipelineContext } from './context.ts';
import { isSyncTask } from './modes.ts';
import { enqueueSubmit, triggerBuild } from './triggers.ts';

export interface BuildOutcome {
  batches: string[];
  /** Why the builder stopped: no more items, a concurrency cap, or the build policy's wait. */
  stoppedBy: 'empty' | 'task-cap' | 'model-cap' | 'policy';
}

/**
 * Writes the file of a batch in status `building` and moves it to `built`. Used right after the
 * claim and by the reconciler for a builder that died between claim and file.
 */
export async function finishBuilding(ctx: PipelineContext, batchId: string): Promise<boolean> {
  const batch = await batches.get(ctx.db, batchId);
  if (!batch || batch.status !== 'building') return false;
  // A sync chunk has no file: the next sync run of its task adopts it once its lease has lapsed.
  if (batch.mode === 'sync') {
    await triggerBuild(ctx, batch.task);
    return false;
  }
  const task = ctx.registry.get(batch.task);
  const { path, bytes } = await ctx.files.writeLines(batchId, batchLines(ctx, task, batchId));
  const moved = await batches.markBuilt(ctx.db, { id: batchId, filePath: path, bytes, at: ctx.now() });
  if (moved) await enqueueSubmit(ctx, batchId, 0);
  return moved;
}

/** Builds batch files for `taskName` until its items run out or a cap or the policy stops it. */
export async function build(ctx: PipelineContext, taskName: string): Promise<BuildOutcome> {
  const task = ctx.registry.get(taskName);
  if (isSyncTask(ctx.config, task)) {
    await triggerBuild(ctx, task.name); // its work belongs to the sync role
    return { batches: [], stoppedBy: 'policy' };
  }
  const limits = resolveLimits(task);
  const taskCap = limits.maxInFlightBatches ?? ctx.config.limits.maxInFlightPerTask;
  const built: string[] = [];

  for (;;) {
    if ((await batches.openCount(ctx.db, { task: task.name })) >= taskCap) return { batches: built, stoppedBy: 'task-cap' };
    if ((await batches.openCount(ctx.db, { model: task.model })) >= ctx.config.limits.maxInFlightPerModel) return { batches: built, stoppedBy: 'model-cap' };

    const tokenCap = Math.min(limits.maxTokensPerBatch ?? Infinity, await ctx.limits.effective(task.model));

    if (ctx.config.build.minItems > 1) {
      const waiting = await items.queuedSummary(ctx.db, task.name, ctx.now());
      if (waiting.count === 0) return { batches: built, stoppedBy: 'empty' };
      if (waiting.count < ctx.config.build.minItems && waiting.oldestAgeMs < ctx.config.build.maxWaitMs) {
        await triggerBuild(ctx, task.name, Math.ceil(ctx.config.build.maxWaitMs - waiting.oldestAgeMs));
        return { batches: built, stoppedBy: 'policy' };
      }
    }

    const batchId = uuidv7();
    const requests = Math.min(limits.maxRequestsPerBatch, ctx.config.build.targetRequests);
    const claimed = await claimItems(ctx, task, batchId, { requests, tokens: tokenCap, bytes: limits.maxBytesPerBatch }, 'batch');
    if (claimed.length === 0) {
      // An item over the cap (learned after its intake) claims nothing when it comes first in line:
      // it fails here, and the claim runs again. Looked for only then, since the scan reads every
      // queued item of the task.
      if ((await items.failTooLarge(ctx.db, task.name, tokenCap, ctx.now())) > 0) continue;
      await scheduleNextAvailable(ctx, task.name);
      return { batches: built, stoppedBy: 'empty' };
    }
    await finishBuilding(ctx, batchId);
    built.push(batchId);
    ctx.log.info({ batchId, task: task.name, requests: claimed.length }, 'built batch');
  }
}
