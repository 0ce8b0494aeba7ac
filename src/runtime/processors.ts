import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { z } from 'zod';
import { IntakeRejectedError, UnknownTaskError } from '../errors.ts';
import { safeText } from '../intake/sanitize.ts';
import { build } from '../pipeline/build.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { intake } from '../pipeline/intake.ts';
import { poll } from '../pipeline/poll.ts';
import { processBatch } from '../pipeline/process/index.ts';
import { SyncRunner } from '../pipeline/sync.ts';
import { submit } from '../pipeline/submit.ts';
import type { Role } from '../queues/names.ts';
import { buildPayloadSchema, pollPayloadSchema, processPayloadSchema, submitPayloadSchema } from '../queues/payloads.ts';

export type Processor = (job: Job, token?: string) => Promise<unknown>;

/** Parses a job's payload; a bad one fails the job for good, with the reason, and never crashes the worker. */
function payload<T>(schema: z.ZodType<T>, job: Job): T {
  const parsed = schema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`bad ${job.queueName} payload: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Parks a job in `delayed` without spending an attempt. */
async function later(job: Job, token: string | undefined, delayMs: number): Promise<never> {
  await job.moveToDelayed(Date.now() + delayMs, token);
  throw new DelayedError();
}

/** The processor of each role: thin adapters from BullMQ jobs to the pipeline stages. */
export function processors(ctx: PipelineContext): Record<Role, Processor> {
  const sync = new SyncRunner(ctx);
  const unknownTaskIsFinal = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof UnknownTaskError) throw new UnrecoverableError(err.message);
      throw err;
    }
  };
  return {
    intake: async (job) => {
      try {
        return await intake(ctx, job.data, job.id ?? null);
      } catch (err) {
        if (err instanceof IntakeRejectedError) throw new UnrecoverableError(safeText(err.reason, 1_000));
        throw err;
      }
    },
    build: async (job) => {
      const { task } = payload(buildPayloadSchema, job);
      return unknownTaskIsFinal(() => build(ctx, task));
    },
    sync: async (job) => {
      const { task } = payload(buildPayloadSchema, job);
      return unknownTaskIsFinal(() => sync.run(task));
    },
    submit: async (job, token) => {
      const { batchId } = payload(submitPayloadSchema, job);
      const outcome = await submit(ctx, batchId);
      if (outcome.kind === 'held') return later(job, token, outcome.retryInMs);
      return outcome;
    },
    poll: async (job, token) => {
      const data = payload(pollPayloadSchema, job);
      const outcome = await poll(ctx, data.batchId, data.intervalMs);
      if (outcome.kind === 'open') {
        await job.updateData({ ...data, intervalMs: outcome.nextDelayMs, lastStatus: outcome.status });
        return later(job, token, outcome.nextDelayMs);
      }
      return outcome;
    },
    process: async (job, token) => {
      const { batchId } = payload(processPayloadSchema, job);
      const outcome = await processBatch(ctx, batchId);
      if (outcome.kind === 'busy') return later(job, token, 5_000);
      return outcome;
    },
  };
}
