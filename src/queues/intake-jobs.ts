import type { JobsOptions, KeepJobs } from 'bullmq';

/**
 * How long finished intake jobs stay in Redis. Once an intake job completes, its items are in
 * PostgreSQL and its payload (about 1 MB for 1,000 support tickets) is dead weight: the last 100
 * completed jobs are kept, for an hour at most (enough for Bull Board and for a producer waiting on
 * its job), not BullMQ's default of every job forever. A failed job keeps its payload for a week,
 * so an operator can retry it.
 */
export const INTAKE_RETENTION = {
  removeOnComplete: { age: 3_600, count: 100 },
  removeOnFail: { age: 7 * 24 * 3_600 },
} as const satisfies { removeOnComplete: KeepJobs; removeOnFail: KeepJobs };

/**
 * Options of every intake job batchfleet's producers add. The intake worker applies the same
 * retention to jobs added without it (by other producers, in any language).
 */
export const INTAKE_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
  ...INTAKE_RETENTION,
};
