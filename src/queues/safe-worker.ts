import { UnrecoverableError, Worker, type Job, type JobJson, type Processor, type WorkerOptions } from 'bullmq';
import { unparseableJobs } from '../monitoring/process-metrics.ts';

/** Key of the stand-in data given to a job whose data in Redis is not JSON. */
export const UNPARSEABLE_KEY = '__batchfleetUnparseable';

function parses(json: string | undefined): string | null {
  try {
    JSON.parse(json || '{}');
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** SafeWorker's own options, besides BullMQ's. */
export interface SafeWorkerOptions {
  /**
   * Take the next job in the Redis call that finishes one (BullMQ's default: true). Set it false for
   * a queue whose jobs carry large data: BullMQ 6.7 checks that call's reply with `result < 0`, which
   * joins the next job's whole data into a string (6 ms for a 1 MB intake payload, twice the time of
   * parsing it). The worker then takes its next job with its own call, one round trip more a job.
   */
  fetchNextOnFinish?: boolean;
}

/**
 * A BullMQ worker that fails, rather than strands, a job whose stored data is not JSON.
 *
 * BullMQ parses a job's data when it takes the job; a parse error there escapes the processor, so the job
 * stays `active` until stall detection hands it to another worker, which fails the same way, for ever.
 * This worker gives such a job stand-in data, and its processor fails it for good (UnrecoverableError) with
 * the parse error as the reason, and counts it in `batchfleet_jobs_unparseable_total`.
 */
export class SafeWorker<T = unknown, R = unknown> extends Worker<T, R> {
  private readonly fetchNextOnFinish: boolean;

  constructor(name: string, processor: Processor<T, R>, opts: WorkerOptions, own: SafeWorkerOptions = {}) {
    super(
      name,
      async (job, token, signal) => {
        const stand = job.data as Record<string, unknown> | null;
        if (stand !== null && typeof stand === 'object' && UNPARSEABLE_KEY in stand) {
          unparseableJobs.inc({ queue: name });
          throw new UnrecoverableError(`job data is not JSON (${String(stand[UNPARSEABLE_KEY])}); failed without running`);
        }
        return processor(job, token, signal);
      },
      opts,
    );
    this.fetchNextOnFinish = own.fetchNextOnFinish ?? true;
  }

  override processJob(job: Job<T, R, string>, token: string, fetchNextCallback: () => boolean = () => true): ReturnType<Worker<T, R>['processJob']> {
    return super.processJob(job, token, this.fetchNextOnFinish ? fetchNextCallback : () => false);
  }

  protected override createJob(data: JobJson, jobId: string): Job<T, R, string> {
    // BullMQ parses the data here; only when that throws is the data checked on its own (parsing a
    // 1 MB intake payload twice on every job cost as much as the parse BullMQ does).
    try {
      return super.createJob(data, jobId);
    } catch (err) {
      const dataError = typeof data.data === 'string' ? parses(data.data) : null;
      if (dataError === null) throw err;
      return super.createJob({ ...data, data: JSON.stringify({ [UNPARSEABLE_KEY]: dataError.slice(0, 200) }) }, jobId);
    }
  }
}
