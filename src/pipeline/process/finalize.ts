import * as batches from '../../store/batches.ts';
import type { BatchRecord } from '../../store/batches.ts';
import type { PipelineContext } from '../context.ts';
import { triggerBuild, wakeHeld } from '../triggers.ts';

/** Closes the batch: roll-ups from its attempts, reservation released, files deleted, next build triggered. */
export async function finalizeBatch(ctx: PipelineContext, batch: BatchRecord): Promise<void> {
  await batches.finalize(ctx.db, batch.id, ctx.now());
  await ctx.budget.release(batch.model, batch.id);
  const toDelete = ctx.config.providerFileRetention === 'keep' ? [] : [batch.inputFileId, batch.outputFileId, batch.errorFileId];
  for (const fileId of toDelete) {
    if (fileId) await ctx.provider.deleteFile(fileId).catch((err: unknown) => ctx.log.warn({ err, fileId }, 'could not delete a provider file'));
  }
  if (batch.filePath) await ctx.files.remove(batch.filePath);
  await triggerBuild(ctx, batch.task);
  await wakeHeld(ctx, batch.model);
}
