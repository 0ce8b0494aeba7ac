import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { INTAKE_JOB_OPTIONS } from './intake-jobs.ts';
import { QUEUES, type Role, resultsQueueName } from './names.ts';

/** Defaults for pipeline jobs: PostgreSQL holds the state, so finished jobs need not linger in Redis. */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 1_000 },
  removeOnFail: { age: 24 * 3_600 },
};

/** The pipeline's BullMQ queues over one shared connection. */
export class PipelineQueues {
  readonly byRole: Record<Role, Queue>;
  private readonly results = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis,
    readonly prefix: string,
  ) {
    const make = (name: string, defaultJobOptions = DEFAULT_JOB_OPTIONS) => new Queue(name, { connection, prefix, defaultJobOptions });
    this.byRole = {
      intake: make(QUEUES.intake, INTAKE_JOB_OPTIONS),
      build: make(QUEUES.build),
      submit: make(QUEUES.submit),
      poll: make(QUEUES.poll),
      process: make(QUEUES.process),
      sync: make(QUEUES.sync),
    };
    for (const q of Object.values(this.byRole)) q.on('error', () => undefined);
  }

  get intake(): Queue { return this.byRole.intake; }
  get build(): Queue { return this.byRole.build; }
  get submit(): Queue { return this.byRole.submit; }
  get poll(): Queue { return this.byRole.poll; }
  get process(): Queue { return this.byRole.process; }
  get sync(): Queue { return this.byRole.sync; }

  /** The results queue of a task, created on first use. */
  resultsFor(task: string): Queue {
    let q = this.results.get(task);
    if (!q) {
      q = new Queue(resultsQueueName(task), {
        connection: this.connection,
        prefix: this.prefix,
        defaultJobOptions: { removeOnComplete: { age: 24 * 3_600 }, removeOnFail: { age: 7 * 24 * 3_600 } },
      });
      q.on('error', () => undefined);
      this.results.set(task, q);
    }
    return q;
  }

  all(): Queue[] {
    return [...Object.values(this.byRole), ...this.results.values()];
  }

  /**
   * Adds a job with a deterministic id so that it exists exactly once. A failed job with that id
   * is removed first, so that the reconciler can recreate work whose earlier job gave up.
   */
  async ensure(queue: Queue, name: string, data: object, jobId: string, opts: JobsOptions = {}): Promise<void> {
    const existing = await queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'failed' && state !== 'completed' && state !== 'unknown') return;
      await existing.remove().catch(() => undefined);
    }
    await queue.add(name, data, { ...opts, jobId });
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}
