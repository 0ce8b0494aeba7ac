/*
 * Sync: a task in sync mode (`mode: 'sync'`, or named in SYNC_TASKS) runs its items one request
 * at a time against the synchronous endpoint instead of through batch files. It is its own worker
 * role (queue `sync`): triggers for a sync task go there.
 *
 * Why it works this way
 * - Same claim. Items are claimed exactly as for a batch (`claimItems`: row locks that skip locked rows
 *   into a batch row with mode `sync`, a "sync chunk"), so no item is taken twice, whatever the
 *   mode of the other workers. Every attempt row needs a batch, and history, cost roll-ups and the
 *   CLI read batches. A chunk goes `building` → `processed`; it never has a file, a provider batch
 *   or a token-budget reservation (the enqueued-token limit is a Batch API limit).
 * - Same verdicts, same policy, same records. Each answer is wrapped as a batch output line and
 *   judged by `judgeLine`, `decide` applies the retry policy and `recordResults` records it (the
 *   item's own row, in this chunk and waiting, is the idempotency gate). A retried item goes into a later chunk.
 * - Sync price: `cost_usd = sync_cost_usd`, so cost reports show no savings for sync work.
 * - Rate and concurrency: a Redis slot scheduler spaces requests per model fleet-wide (SYNC_RPM);
 *   a semaphore per runner caps requests in flight (SYNC_CONCURRENCY).
 * - Crashes: a chunk is born with a lease (../lease.ts), renewed by its timer. A chunk whose lease
 *   lapsed (its worker died) is adopted by the next sync run of its task; the reconciler triggers
 *   one. Items the dead worker sent but did not record are sent again: at-least-once at the
 *   provider, exactly once in our records.
 * - Bounded jobs: one job works for at most SLICE_MS of chunks, then hands over to a follow-up.
 */
import { ProviderError } from '../errors.ts';
import * as batches from '../store/batches.ts';
import * as items from '../store/items.ts';
import { uuidv7 } from '../store/uuid7.ts';
import type { PendingItem } from '../store/items.ts';
import { resolveLimits, type AnyTask, type TaskLimits } from '../tasks/contract.ts';
import { claimItems, scheduleNextAvailable } from './claim.ts';
import type { PipelineContext } from './context.ts';
import { Lease } from './lease.ts';
import { costOf, decisionRow, recordResults } from './record-results.ts';
import { decide } from './retry-policy.ts';
import { spendToday } from './spend.ts';
import { SyncRateLimiter } from './sync-rate-limit.ts';
import { triggerBuild } from './triggers.ts';
import { judgeLine, NO_USAGE } from './verdicts.ts';

/** Longest a single sync job keeps starting new chunks before it hands over. */
const SLICE_MS = 30_000;
/** Most items in one chunk. */
const MAX_CHUNK = 100;
/** Retries due this soon are waited for inside the job. */
const IN_JOB_WAIT_MS = 5_000;
/** Wait before looking again once the daily spend cap is reached. */
const SPEND_CAP_RETRY_MS = 60_000;

export interface SyncOutcome {
  batches: string[];
  stoppedBy: 'empty' | 'policy';
}

/** Runs sync work for one process: owns the concurrency semaphore and the rate limiter. */
export class SyncRunner {
  private readonly semaphore: Semaphore;
  private readonly limiter: SyncRateLimiter;

  constructor(private readonly ctx: PipelineContext) {
    this.semaphore = new Semaphore(ctx.config.sync.concurrency);
    this.limiter = new SyncRateLimiter(ctx.redis, ctx.config.prefix, ctx.config.sync.rpm);
  }

  /** Adopts abandoned chunks, then claims and runs chunks until nothing is available, the spend cap, or the time slice. */
  async run(taskName: string): Promise<SyncOutcome> {
    const ctx = this.ctx;
    const task = ctx.registry.get(taskName);
    const limits = resolveLimits(task);
    const started = Date.now();
    const done: string[] = [];

    for (const id of await batches.abandonedChunks(ctx.db, task.name, ctx.now())) if (await this.runChunk(task, id)) done.push(id);

    for (;;) {
      const cap = ctx.config.dailySpendCapUsd;
      if (cap !== undefined && (await spendToday(ctx)) >= cap) {
        ctx.log.warn({ task: task.name, cap }, 'sync work paused: daily spend cap reached');
        await triggerBuild(ctx, task.name, SPEND_CAP_RETRY_MS);
        return { batches: done, stoppedBy: 'policy' };
      }
      if (Date.now() - started >= SLICE_MS) {
        await triggerBuild(ctx, task.name); // a follow-up, possibly in another process
        return { batches: done, stoppedBy: 'policy' };
      }
      const batchId = uuidv7();
      const until = new Date(ctx.now().getTime() + ctx.config.timings.leaseMs);
      const claimed = await claimItems(ctx, task, batchId, { requests: this.chunkSize(limits), tokens: Number.MAX_SAFE_INTEGER, bytes: limits.maxBytesPerBatch }, 'sync', {
        owner: ctx.owner,
        until,
      });
      if (claimed.length === 0) {
        // Retries due within a few seconds are waited for here rather than through a delayed job:
        // delayed triggers are deduplicated per second, so one for this very second would be dropped.
        const waitMs = await items.nextAvailableInMs(ctx.db, task.name, ctx.now());
        if (waitMs !== null && waitMs <= IN_JOB_WAIT_MS && Date.now() - started + waitMs < SLICE_MS) {
          await new Promise((resolve) => setTimeout(resolve, Math.max(50, Math.ceil(waitMs))));
          continue;
        }
        await scheduleNextAvailable(ctx, task.name);
        return { batches: done, stoppedBy: 'empty' };
      }
      await batches.recordChunkSize(ctx.db, batchId, claimed.length, claimed.reduce((n, r) => n + Number(r.estimatedTokens), 0), ctx.now());
      await this.runChunk(task, batchId);
      done.push(batchId);
    }
  }

  /** Items per chunk: about ten seconds of the fleet's rate, at least one per concurrent request, at most MAX_CHUNK. */
  private chunkSize(limits: TaskLimits): number {
    const { rpm, concurrency } = this.ctx.config.sync;
    return Math.min(limits.maxRequestsPerBatch, MAX_CHUNK, Math.max(concurrency, Math.ceil(rpm / 6)));
  }

  /** Runs the unanswered items of a sync chunk and closes it. False when someone else holds the chunk. */
  private async runChunk(task: AnyTask, batchId: string): Promise<boolean> {
    const ctx = this.ctx;
    const lease = await Lease.take(ctx, batchId, ctx.owner, ['building'], 'sync');
    if (!lease) return false;
    try {
      const limits = resolveLimits(task);
      const pending = await items.pendingInBatch(ctx.db, batchId, { statuses: ['batched'] });
      let next = 0;
      const lane = async () => {
        while (next < pending.length && lease.held) await this.runOne(task, limits, batchId, pending[next++]!);
      };
      const lanes = await Promise.allSettled(Array.from({ length: Math.min(ctx.config.sync.concurrency, pending.length) }, lane));
      const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
      if (failed) throw failed.reason; // the chunk stays open under its lease; it is adopted once the lease lapses
      await batches.finishSyncChunk(ctx.db, batchId, ctx.now());
      ctx.log.info({ batchId, task: task.name, requests: pending.length }, 'sync chunk processed');
      return true;
    } finally {
      await lease.release();
    }
  }

  /** One item: one request (rate-limited, within the concurrency cap), judged and recorded like a batch line. */
  private async runOne(task: AnyTask, limits: TaskLimits, batchId: string, item: PendingItem): Promise<void> {
    const ctx = this.ctx;
    const body = task.buildRequest(item.input, { maxOutputTokens: item.maxOutputTokens ?? limits.maxOutputTokens });
    const model = typeof body.model === 'string' && body.model ? body.model : task.model;
    const line = await this.semaphore.run(async () => {
      await this.limiter.acquire(model);
      return this.requestAsLine(task, item.id, body);
    });
    const verdict = judgeLine(line, task, item.input);
    const usage = verdict.kind === 'not_executed' ? NO_USAGE : verdict.usage;
    const decision = decisionRow(decide(verdict, item, limits), usage, costOf(ctx, task.model, usage, true));
    await recordResults(ctx, task, batchId, [decision], new Map([[item.id, item]]));
  }

  /** The provider's answer in the shape of a batch output line, so `judgeLine` judges it. */
  private async requestAsLine(task: AnyTask, itemId: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    try {
      const res = await this.ctx.provider.request(task.endpoint, body);
      return { custom_id: itemId, response: { status_code: res.status, body: res.body }, error: null };
    } catch (err) {
      // No answer at all: the same as an error line without a response (retryable, an attempt spent).
      const code = err instanceof ProviderError ? (err.code ?? 'connection_error') : 'provider_error';
      this.ctx.log.warn({ itemId, task: task.name, err: (err as Error).message }, 'sync request got no answer');
      return { custom_id: itemId, response: null, error: { code, message: (err as Error).message } };
    }
  }
}

/** A counting semaphore: at most `size` holders at once, the rest wait in order. */
class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
