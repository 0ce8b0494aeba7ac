import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from '../store/db.ts';
import { INTAKE_JOB_OPTIONS } from '../queues/intake-jobs.ts';
import { QUEUES } from '../queues/names.ts';
import type { IntakeOutcome } from '../queues/payloads.ts';

export { findItem, type ItemAttempt, type ItemView } from './lookup.ts';
import { findItem, type ItemView } from './lookup.ts';

/**
 * The first, untyped producer client: enqueue items onto the intake queue, and look up an item's
 * status and history. Prefer `createClient` from `batchfleet/client` (typed, with result delivery).
 */
export class BatchfleetClient {
  private readonly intake: Queue;

  constructor(private readonly options: { connection: Redis; prefix: string; db?: Db }) {
    this.intake = new Queue(QUEUES.intake, { connection: options.connection, prefix: options.prefix });
  }

  /** Enqueues items of one task; returns the intake job id. Idempotent per (task, externalId). */
  async enqueue(task: string, items: Array<{ externalId: string; input: unknown }>, jobId?: string): Promise<string> {
    const job = await this.intake.add('intake', { task, items }, { ...INTAKE_JOB_OPTIONS, ...(jobId ? { jobId } : {}) });
    return job.id!;
  }

  /** Enqueues and waits for the intake verdict: accepted, duplicates, and per-item rejections. */
  async enqueueAndWait(task: string, items: Array<{ externalId: string; input: unknown }>, timeoutMs = 30_000): Promise<IntakeOutcome> {
    const events = new QueueEvents(QUEUES.intake, { connection: this.options.connection.duplicate(), prefix: this.options.prefix });
    try {
      await events.waitUntilReady();
      const job = await this.intake.add('intake', { task, items }, INTAKE_JOB_OPTIONS);
      return (await job.waitUntilFinished(events, timeoutMs)) as IntakeOutcome;
    } finally {
      await events.close();
    }
  }

  /** An item's status and attempt history, or null. Needs the database. */
  async item(task: string, externalId: string): Promise<ItemView | null> {
    const db = this.options.db;
    if (!db) throw new Error('BatchfleetClient.item() needs the `db` option');
    return findItem(db, { task, externalId });
  }

  async close(): Promise<void> {
    await this.intake.close();
  }
}

