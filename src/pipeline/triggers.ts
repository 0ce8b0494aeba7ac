/**
 * Triggers: how one stage asks for the next without importing it. Every job carries ids only and
 * has a deterministic id, so a trigger sent twice makes one job.
 */
import type { Queue } from 'bullmq';
import { jobIds } from '../queues/names.ts';
import { PROVIDER_OPEN } from '../store/batch-states.ts';
import * as batches from '../store/batches.ts';
import type { PipelineContext } from './context.ts';
import { isSyncTask } from './modes.ts';

type TriggerContext = Pick<PipelineContext, 'queues' | 'registry' | 'config' | 'now'>;

/**
 * Asks for a build of `task` (on the sync queue for a task in sync mode). Immediate triggers are
 * deduplicated per task with keep-last-if-active, so any number of them while a build runs
 * collapse into exactly one follow-up build.
 */
export async function triggerBuild(ctx: TriggerContext, task: string, delayMs = 0): Promise<void> {
  const sync = ctx.registry.has(task) && isSyncTask(ctx.config, ctx.registry.get(task));
  const queue: Queue = sync ? ctx.queues.sync : ctx.queues.build;
  const key = sync ? jobIds.sync(task) : jobIds.build(task);
  if (delayMs > 0) {
    // A delayed build must not hold the dedup key, or it would swallow immediate triggers until it
    // fires. It runs at the end of its due second, so one job serves every item due in that second,
    // and it leaves no finished job behind whose id would swallow a later trigger.
    const now = ctx.now().getTime();
    const due = Math.ceil((now + delayMs) / 1_000);
    await queue.add('build', { task }, { delay: due * 1_000 - now, jobId: `${key}-at-${due}`, removeOnComplete: true, removeOnFail: true });
    return;
  }
  // A dedup key whose job is gone or finished (left by a partial Redis loss) would swallow every trigger for ever.
  const holder = await queue.getDeduplicationJobId(key);
  if (holder) {
    const job = await queue.getJob(holder);
    const state = job ? await job.getState() : 'unknown';
    if (state === 'unknown' || state === 'completed' || state === 'failed') await queue.removeDeduplicationKey(key);
  }
  await queue.add('build', { task }, { deduplication: { id: key, keepLastIfActive: true } });
}

/** Enqueues the submit job of a built batch (one per submission of its file). */
export async function enqueueSubmit(ctx: Pick<PipelineContext, 'queues'>, batchId: string, submission: number, delayMs = 0): Promise<void> {
  await ctx.queues.ensure(ctx.queues.submit, 'submit', { batchId }, jobIds.submit(batchId, submission), delayMs > 0 ? { delay: delayMs } : {});
}

/** Starts the poll loop of a submitted batch. */
export async function enqueuePoll(ctx: Pick<PipelineContext, 'queues'>, batchId: string, submission: number, delayMs = 0): Promise<void> {
  await ctx.queues.ensure(ctx.queues.poll, 'poll', { batchId }, jobIds.poll(batchId, submission), {
    attempts: 1_000,
    backoff: { type: 'exponential', delay: 1_000 },
    ...(delayMs > 0 ? { delay: delayMs } : {}),
  });
}

/** Enqueues result processing of a batch that reached a terminal status. */
export async function enqueueProcess(ctx: Pick<PipelineContext, 'queues'>, batchId: string): Promise<void> {
  await ctx.queues.ensure(ctx.queues.process, 'process', { batchId }, jobIds.process(batchId));
}

/** Wakes the held submit jobs of a model: called whenever a reservation is released. */
export async function wakeHeld(ctx: Pick<PipelineContext, 'queues' | 'db'>, model: string): Promise<void> {
  for (const b of await batches.heldOf(ctx.db, model)) {
    const job = await ctx.queues.submit.getJob(jobIds.submit(b.id, b.submission));
    if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
  }
}

export type WakeOutcome = 'promoted' | 'recreated' | 'already_due' | 'ignored';

/** Makes the next poll of the batch with this provider id run now (webhooks, operator cancels). */
export async function wakePoll(ctx: Pick<PipelineContext, 'queues' | 'db'>, providerBatchId: string): Promise<{ outcome: WakeOutcome; batchId?: string }> {
  const batch = await batches.getByProviderId(ctx.db, providerBatchId);
  if (!batch) return { outcome: 'ignored' };
  if (!PROVIDER_OPEN.includes(batch.status)) return { outcome: 'ignored', batchId: batch.id };
  const job = await ctx.queues.poll.getJob(jobIds.poll(batch.id, batch.submission));
  if (!job) {
    await enqueuePoll(ctx, batch.id, batch.submission);
    return { outcome: 'recreated', batchId: batch.id };
  }
  if (await job.isDelayed()) {
    try {
      await job.promote();
      return { outcome: 'promoted', batchId: batch.id };
    } catch {
      return { outcome: 'already_due', batchId: batch.id };
    }
  }
  return { outcome: 'already_due', batchId: batch.id };
}
