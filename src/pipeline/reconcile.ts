/*
 * Reconcile: PostgreSQL is the truth and Redis only carries jobs, so after Redis is lost (or a
 * job gave up, or a worker died between two steps) this rebuilds every job that should exist
 * from the rows alone. Every job it adds has a deterministic id and every stage is a conditional
 * transition, so running it at any time, any number of times, next to live workers, is harmless.
 * The token budget is only ever added to (missing reservations of open batches) or released for
 * batches that have ended, so it never drops a reservation a live submitter has just taken.
 */
import { PROVIDER_OPEN, RESERVING } from '../store/batch-states.ts';
import * as batches from '../store/batches.ts';
import * as items from '../store/items.ts';
import { batchIdOfFile, META_BATCH_ID } from './batch-file.ts';
import { finishBuilding } from './build.ts';
import type { PipelineContext } from './context.ts';
import { enqueuePoll, enqueueProcess, enqueueSubmit, triggerBuild } from './triggers.ts';

export interface ReconcileReport {
  buildTriggers: number;
  rebuiltFiles: number;
  submitJobs: number;
  pollJobs: number;
  processJobs: number;
  reservationsAdded: number;
  reservationsReleased: number;
  orphanBatchesCancelled: number;
  orphanFilesDeleted: number;
}

export async function reconcile(ctx: PipelineContext, options: { orphans?: boolean } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    buildTriggers: 0, rebuiltFiles: 0, submitJobs: 0, pollJobs: 0, processJobs: 0,
    reservationsAdded: 0, reservationsReleased: 0, orphanBatchesCancelled: 0, orphanFilesDeleted: 0,
  };

  for (const task of await items.tasksWithQueued(ctx.db)) {
    if (!ctx.registry.has(task)) continue;
    await triggerBuild(ctx, task);
    report.buildTriggers++;
  }

  const open = await batches.openBatches(ctx.db, ctx.now());
  for (const b of open) {
    if (b.status === 'building') {
      if (b.ageMs > ctx.config.timings.buildingStaleMs && (await finishBuilding(ctx, b.id))) report.rebuiltFiles++;
    } else if (b.status === 'built' || b.status === 'submitting') {
      await enqueueSubmit(ctx, b.id, b.submission);
      report.submitJobs++;
    } else if (PROVIDER_OPEN.includes(b.status)) {
      await enqueuePoll(ctx, b.id, b.submission);
      report.pollJobs++;
    } else {
      await enqueueProcess(ctx, b.id);
      report.processJobs++;
    }
  }

  // Budget: every batch the provider may still count holds a reservation; nothing else does.
  const byModel = new Map<string, typeof open>();
  for (const b of open) if (RESERVING.includes(b.status)) byModel.set(b.model, [...(byModel.get(b.model) ?? []), b]);
  for (const model of new Set([...byModel.keys(), ...(await ctx.budget.models())])) {
    const held = await ctx.budget.reservations(model);
    for (const b of byModel.get(model) ?? []) {
      if (held.has(b.id)) continue;
      await ctx.budget.reserve(model, b.id, b.estimatedTokens, Number.MAX_SAFE_INTEGER);
      report.reservationsAdded++;
    }
    if (held.size === 0) continue;
    for (const id of await batches.notReserving(ctx.db, [...held.keys()])) if (await ctx.budget.release(model, id)) report.reservationsReleased++;
  }

  if (options.orphans) await reapOrphans(ctx, report);
  ctx.log.info(report, 'reconciled');
  return report;
}

/**
 * Orphans at the provider. Rule: a provider batch carrying our metadata whose batch row is
 * unknown, or which is not the submission the row records, is cancelled (the row's own
 * submission adopts it instead, via the submit retry path). Uploaded batch files whose batch
 * row is unknown or already processed are deleted.
 */
async function reapOrphans(ctx: PipelineContext, report: ReconcileReport): Promise<void> {
  const known = new Map((await batches.allIds(ctx.db)).map((r) => [r.id, r]));
  for await (const remote of ctx.provider.listBatches()) {
    const ours = remote.metadata[META_BATCH_ID];
    if (!ours || ['completed', 'failed', 'expired', 'cancelled', 'cancelling'].includes(remote.status)) continue;
    const row = known.get(ours);
    if (row && (row.providerBatchId === remote.id || row.status === 'submitting')) continue;
    await ctx.provider.cancelBatch(remote.id).catch(() => undefined);
    report.orphanBatchesCancelled++;
    ctx.log.warn({ providerBatchId: remote.id, batchId: ours }, 'cancelled an orphan provider batch');
  }
  for await (const file of ctx.provider.listBatchFiles()) {
    const id = batchIdOfFile(file.filename);
    if (!id) continue;
    const row = known.get(id);
    if (row && row.status !== 'processed') continue;
    await ctx.provider.deleteFile(file.id).catch(() => undefined);
    report.orphanFilesDeleted++;
  }
}
