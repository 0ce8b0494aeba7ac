/*
 * Lease: one worker at a time works a batch's results (process) or a sync chunk (sync).
 *
 * Why it works this way: the lease is a row lock that survives no crash, written as an owner and
 * an expiry on the batch row (the injected clock decides both). A timer renews it every third of
 * its length while the holder works, so a long file never loses it, and a SIGKILLed worker's
 * batch is free again within one lease length (LEASE_MS, seconds) instead of minutes. Taking a
 * lease is a conditional UPDATE: free, lapsed, or already ours.
 */
import type { BatchMode, BatchStatus } from '../store/batch-states.ts';
import * as batches from '../store/batches.ts';
import type { BatchRecord } from '../store/batches.ts';
import type { PipelineContext } from './context.ts';

type LeaseContext = Pick<PipelineContext, 'db' | 'now' | 'config' | 'log'>;

/** A held lease: renewed on a timer until released. */
export class Lease {
  private timer: NodeJS.Timeout | undefined;
  private lost = false;

  private constructor(
    private readonly ctx: LeaseContext,
    readonly batch: BatchRecord,
    private readonly owner: string,
  ) {}

  /** Takes the lease on `batchId` for `owner` if it is free, lapsed or already ours; undefined otherwise. */
  static async take(ctx: LeaseContext, batchId: string, owner: string, statuses: readonly BatchStatus[], mode: BatchMode): Promise<Lease | undefined> {
    const batch = await batches.takeLease(ctx.db, { id: batchId, owner, statuses, mode, at: ctx.now(), until: until(ctx) });
    if (!batch) return undefined;
    const lease = new Lease(ctx, batch, owner);
    lease.start();
    return lease;
  }

  /** False once a renewal found the lease taken by someone else (the holder should stop). */
  get held(): boolean {
    return !this.lost;
  }

  private start(): void {
    const every = Math.max(250, Math.floor(this.ctx.config.timings.leaseMs / 3));
    this.timer = setInterval(() => {
      batches
        .renewLease(this.ctx.db, { id: this.batch.id, owner: this.owner, until: until(this.ctx) })
        .then((held) => {
          if (!held) this.lost = true;
        })
        .catch((err: unknown) => this.ctx.log.warn({ err: (err as Error).message, batchId: this.batch.id }, 'lease renewal failed; will try again'));
    }, every);
    this.timer.unref();
  }

  /** Stops renewing. With `free`, also clears the lease so another worker may take the batch at once. */
  async release(free = false): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (free) await batches.releaseLeases(this.ctx.db, { owner: this.owner, id: this.batch.id });
  }
}

function until(ctx: LeaseContext): Date {
  return new Date(ctx.now().getTime() + ctx.config.timings.leaseMs);
}

/** Gives up every lease this process holds (on shutdown), so other workers may take the batches over at once. */
export function releaseAllLeases(ctx: Pick<PipelineContext, 'db' | 'owner'>): Promise<number> {
  return batches.releaseLeases(ctx.db, { owner: ctx.owner });
}
