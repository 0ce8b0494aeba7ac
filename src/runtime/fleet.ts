import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import { safeText } from '../intake/sanitize.ts';
import { rejectedJobs } from '../monitoring/process-metrics.ts';
import { SafeWorker } from '../queues/safe-worker.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { reconcile } from '../pipeline/reconcile.ts';
import { releaseAllLeases } from '../pipeline/lease.ts';
import { INTAKE_RETENTION } from '../queues/intake-jobs.ts';
import { QUEUES, type Role } from '../queues/names.ts';
import { processors } from './processors.ts';

export interface Fleet {
  workers: Worker[];
  /** Stops taking jobs and waits for active ones up to `timeoutMs`, then hands the rest back. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Starts one BullMQ worker per role on the given context. Lock and stall settings are chosen so
 * that a deploy (SIGTERM, or a SIGKILL after the grace period) re-runs jobs instead of failing them.
 */
export async function startFleet(ctx: PipelineContext, roles: readonly Role[], options: { reconcile?: boolean } = {}): Promise<Fleet> {
  if (roles.includes('intake') || roles.includes('sync')) warmTokenizers(ctx);
  const procs = processors(ctx);
  const running = new Map<Job, string | undefined>();
  const workers = roles.map((role) => {
    const tracked = async (job: Job, token?: string) => {
      running.set(job, token);
      try {
        return await procs[role](job, token);
      } finally {
        running.delete(job);
      }
    };
    const worker: Worker = new SafeWorker(QUEUES[role], tracked, {
      connection: ctx.redis,
      prefix: ctx.config.prefix,
      concurrency: ctx.config.concurrency[role],
      lockDuration: ctx.config.timings.jobLockMs,
      stalledInterval: ctx.config.timings.stalledIntervalMs,
      maxStalledCount: 5,
      ...(role === 'poll' ? { limiter: { max: Math.max(1, ctx.config.poll.ratePerSecond), duration: 1_000 } } : {}),
      ...(role === 'intake' ? INTAKE_RETENTION : {}), // for intake jobs added without it
    }, { fetchNextOnFinish: role !== 'intake' }); // intake jobs carry up to megabytes of items (see SafeWorkerOptions)
    worker.on('error', (err) => ctx.log.warn({ role, err: err.message }, 'worker error'));
    worker.on('failed', (job, err) => {
      if (err instanceof UnrecoverableError || err.name === 'UnrecoverableError') {
        rejectedJobs.inc({ queue: QUEUES[role] });
        ctx.log.info({ role, jobId: job?.id, reason: safeText(err.message, 500) }, 'job rejected for good (not retried)');
      } else if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) ctx.log.error({ role, jobId: job.id, err: safeText(err.message, 500) }, 'job failed for good');
      else ctx.log.warn({ role, jobId: job?.id, err: safeText(err.message, 500) }, 'job failed; it will be retried');
    });
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  let timer: NodeJS.Timeout | undefined;
  if (options.reconcile !== false) {
    const run = () =>
      reconcile(ctx).catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'reconcile failed; it will run again'));
    await run();
    if (ctx.config.reconcileEveryMs > 0) {
      timer = setInterval(run, ctx.config.reconcileEveryMs);
      timer.unref();
    }
  }

  return {
    workers,
    async close(timeoutMs = ctx.config.shutdownTimeoutMs) {
      if (timer) clearInterval(timer);
      let timedOut = false;
      const deadline = new Promise<void>((resolve) => setTimeout(() => { timedOut = true; resolve(); }, timeoutMs).unref());
      await Promise.race([Promise.all(workers.map((w) => w.close())), deadline]);
      if (timedOut) {
        // worker.close(true) would only return the graceful close already pending; hand the jobs back ourselves.
        ctx.log.warn({ timeoutMs, jobs: running.size }, 'shutdown bound reached: handing unfinished jobs back');
        await Promise.all([...running].map(([job, token]) => job.moveToWait(token).catch(() => undefined)));
        await releaseAllLeases(ctx).catch(() => undefined);
      }
    },
  };
}

/**
 * Loads the tokenizer of every task's model before the first job: loading an encoding takes
 * ~0.3 s, which would otherwise fall on the first intake of each process. A model the counter
 * cannot handle is left for intake to reject with its reason.
 */
function warmTokenizers(ctx: PipelineContext): void {
  for (const name of ctx.registry.names()) {
    try {
      ctx.tokens.countText(ctx.registry.get(name).model, 'warm up');
    } catch {
      // intake reports it, item by item
    }
  }
}
