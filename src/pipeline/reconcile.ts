/*
 * Reconcile: PostgreSQL is the truth and Redis only carries jobs, so after Redis is lost (or a
 * job gave up, or a worker died between two steps) this rebuilds every job that should exist
 * from the rows alone. Every job it adds has a deterministic id and every stage is a conditional
 * transition, so running it at any time, any number of times, next to live workers, is harmless.
 * The token budget is only ever added to (missing reservations of open batches) or released for
 * batches that have ended, so it never drops a reservation a live submitter has just taken.
 */
import { query } from '../db/sql.ts';
import type { PipelineContext } from './context.ts';
import { finishBuilding } from './build.ts';
import { PROVIDER_OPEN_STATUSES } from './poll.ts';
import { META_BATCH_ID } from './submit.ts';
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

interface OpenBatch { id: string; task: string; model: string; status: string; submission: number; estimated_tokens: number; age_ms: number }

const RESERVING_STATUSES = new Set(['submitting', ...PROVIDER_OPEN_STATUSES]);

export async function reconcile(ctx: PipelineContext, options: { orphans?: boolean } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    buildTriggers: 0, rebuiltFiles: 0, submitJobs: 0, pollJobs: 0, processJobs: 0,
    reservationsAdded: 0, reservationsReleased: 0, orphanBatchesCancelled: 0, orphanFilesDeleted: 0,
  };

  const tasks = await query<{ task: string }>(ctx.db, `select distinct task from items where status = 'queued'`);
  for (const { task } of tasks) {
    if (!ctx.registry.has(task)) continue;
    await triggerBuild(ctx.queues, task);
    report.buildTriggers++;
  }

  const open = await query<OpenBatch>(
    ctx.db,
    `select id, task, model, status, submission, estimated_tokens::int as estimated_tokens,
            (extract(epoch from now() - status_changed_at) * 1000)::float8 as age_ms
       from batches where status <> 'processed'`,
  );
  for (const b of open) {
    if (b.status === 'building' && b.age_ms > 60_000) {
      if (await finishBuilding(ctx, b.id)) report.rebuiltFiles++;
    } else if (b.status === 'built' || b.status === 'submitting') {
      await enqueueSubmit(ctx.queues, b.id, b.submission);
      report.submitJobs++;
    } else if ((PROVIDER_OPEN_STATUSES as readonly string[]).includes(b.status)) {
      await enqueuePoll(ctx.queues, b.id, b.submission);
      report.pollJobs++;
    } else if (b.status !== 'building') {
      await enqueueProcess(ctx.queues, b.id);
      report.processJobs++;
    }
  }

  // Budget: every batch the provider may still count holds a reservation; nothing else does.
  const byModel = new Map<string, OpenBatch[]>();
  for (const b of open) if (RESERVING_STATUSES.has(b.status)) byModel.set(b.model, [...(byModel.get(b.model) ?? []), b]);
  for (const model of new Set([...byModel.keys(), ...(await ctx.budget.models())])) {
    const held = await ctx.budget.reservations(model);
    for (const b of byModel.get(model) ?? []) {
      if (held.has(b.id)) continue;
      await ctx.budget.reserve(model, b.id, b.estimated_tokens, Number.MAX_SAFE_INTEGER);
      report.reservationsAdded++;
    }
    if (held.size === 0) continue;
    const ended = await query<{ id: string }>(
      ctx.db,
      `select k.id from jsonb_array_elements_text($1::jsonb) as k(id)
        where not exists (select 1 from batches b where b.id::text = k.id and b.status in ('built', 'submitting', 'validating', 'in_progress', 'finalizing', 'cancelling'))`,
      JSON.stringify([...held.keys()]),
    );
    for (const { id } of ended) if (await ctx.budget.release(model, id)) report.reservationsReleased++;
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
  const known = new Map(
    (await query<{ id: string; provider_batch_id: string | null; status: string }>(ctx.db, 'select id, provider_batch_id, status from batches')).map((r) => [r.id, r]),
  );
  for await (const remote of ctx.provider.listBatches()) {
    const ours = remote.metadata[META_BATCH_ID];
    if (!ours || ['completed', 'failed', 'expired', 'cancelled', 'cancelling'].includes(remote.status)) continue;
    const row = known.get(ours);
    if (row && (row.provider_batch_id === remote.id || row.status === 'submitting')) continue;
    await ctx.provider.cancelBatch(remote.id).catch(() => undefined);
    report.orphanBatchesCancelled++;
    ctx.log.warn({ providerBatchId: remote.id, batchId: ours }, 'cancelled an orphan provider batch');
  }
  for await (const file of ctx.provider.listBatchFiles()) {
    const m = /^batchfleet-([0-9a-f-]{36})\.jsonl$/.exec(file.filename);
    if (!m) continue;
    const row = known.get(m[1]!);
    if (row && row.status !== 'processed') continue;
    await ctx.provider.deleteFile(file.id).catch(() => undefined);
    report.orphanFilesDeleted++;
  }
}
