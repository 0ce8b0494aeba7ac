import type { PipelineQueues } from '../queues/queues.ts';
import { jobIds } from '../queues/names.ts';

/**
 * Asks for a build of `task`. Immediate triggers are deduplicated per task with keep-last-if-active,
 * so any number of them while a build runs collapse into exactly one follow-up build.
 */
export async function triggerBuild(queues: PipelineQueues, task: string, delayMs = 0): Promise<void> {
  if (delayMs > 0) {
    // A delayed build must not hold the dedup key, or it would swallow immediate triggers until it
    // fires. It runs at the end of its due second, so one job serves every item due in that second,
    // and it leaves no finished job behind whose id would swallow a later trigger.
    const due = Math.ceil((Date.now() + delayMs) / 1_000);
    await queues.build.add('build', { task }, {
      delay: due * 1_000 - Date.now(),
      jobId: `${jobIds.build(task)}-at-${due}`,
      removeOnComplete: true,
      removeOnFail: true,
    });
    return;
  }
  // A dedup key whose job is gone or finished (left by a partial Redis loss) would swallow every trigger for ever.
  const holder = await queues.build.getDeduplicationJobId(jobIds.build(task));
  if (holder) {
    const job = await queues.build.getJob(holder);
    const state = job ? await job.getState() : 'unknown';
    if (state === 'unknown' || state === 'completed' || state === 'failed') await queues.build.removeDeduplicationKey(jobIds.build(task));
  }
  await queues.build.add('build', { task }, { deduplication: { id: jobIds.build(task), keepLastIfActive: true } });
}

/** Enqueues the submit job of a built batch (one per submission of its file). */
export async function enqueueSubmit(queues: PipelineQueues, batchId: string, submission: number, delayMs = 0): Promise<void> {
  await queues.ensure(queues.submit, 'submit', { batchId }, jobIds.submit(batchId, submission), delayMs > 0 ? { delay: delayMs } : {});
}

/** Starts the poll loop of a submitted batch. */
export async function enqueuePoll(queues: PipelineQueues, batchId: string, submission: number, delayMs = 0): Promise<void> {
  await queues.ensure(queues.poll, 'poll', { batchId }, jobIds.poll(batchId, submission), {
    attempts: 1_000,
    backoff: { type: 'exponential', delay: 1_000 },
    ...(delayMs > 0 ? { delay: delayMs } : {}),
  });
}

/** Enqueues result processing of a batch that reached a terminal status. */
export async function enqueueProcess(queues: PipelineQueues, batchId: string): Promise<void> {
  await queues.ensure(queues.process, 'process', { batchId }, jobIds.process(batchId));
}
