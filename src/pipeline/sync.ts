/*
 * Sync: a task in sync mode (`mode: 'sync'`, or named in SYNC_TASKS) runs its items one request
 * at a time against the synchronous endpoint instead of through batch files.
 *
 * Why it works this way
 * - Same claim. The build worker claims queued items exactly as for a batch (`claimItems`:
 *   FOR UPDATE SKIP LOCKED into a batch row), so no item is taken twice, whatever the mode of the
 *   other workers. That row is a "sync chunk": every attempt row needs a batch (attempts.batch_id
 *   is NOT NULL, with a foreign key) and history, cost roll-ups and the CLI read batches. The
 *   migration has no column for the mode, so the chunk is marked `provider_status = 'sync'`; its
 *   endpoint is the task's; its status goes `building` → `processed` directly; it never has a
 *   file, a provider batch or a token-budget reservation (the enqueued-token limit is a Batch API
 *   limit).
 * - Same verdicts, same policy, same records. Each answer is wrapped as a batch output line
 *   (`{custom_id, response: {status_code, body}}`, or `{error}` when no answer came) and judged by
 *   `judgeLine`, then `decide` applies the task's retry policy and `commitDecisions` records it:
 *   the attempts table's unique (item, batch) is the idempotency gate, hooks run in the same
 *   transaction, announcements go out after commit. A retried item is claimed into a later chunk.
 * - Sync price. `cost_usd = sync_cost_usd` (standard rates), so cost reports show no savings for
 *   sync work.
 * - Rate and concurrency. A Redis slot scheduler (sync-rate-limit.ts) spaces requests per model
 *   fleet-wide (SYNC_RPM); a semaphore per process (per context) caps requests in flight
 *   (SYNC_CONCURRENCY) across all sync tasks of that process.
 * - Crashes. A chunk is born with a processing lease, renewed after every answer. A chunk whose
 *   lease lapsed (its worker died) is adopted by the next build of its task; the reconciler
 *   triggers that build (finishBuilding). Items the dead worker had sent but not recorded are sent
 *   again: at-least-once at the provider, exactly once in our records.
 * - Bounded jobs. One build job works for at most SLICE_MS of chunks, then hands over to a
 *   follow-up build, so sync tasks share build workers and a shutdown waits for one chunk at most.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { query, execute } from '../db/sql.ts';
import { costPair } from '../pricing/index.ts';
import { ProviderError } from '../errors.ts';
import { resolveLimits, type AnyTask, type TaskLimits } from '../tasks/contract.ts';
import type { BuildOutcome } from './build.ts';
import { claimItems, nextAvailableInMs, scheduleNextAvailable } from './claim.ts';
import type { PipelineContext } from './context.ts';
import { announce, BATCH_ROLLUP_SQL, commitDecisions, decide, type Decision, type ItemRow } from './process.ts';
import { spendToday } from './submit.ts';
import { SyncRateLimiter } from './sync-rate-limit.ts';
import { triggerBuild } from './triggers.ts';
import { judgeLine, NO_USAGE } from './verdicts.ts';

/** `provider_status` of a batch row that is a sync chunk. */
export const SYNC_MARKER = 'sync';
const LEASE_MS = 120_000;
/** Longest a single build job keeps starting new chunks before it hands over. */
const SLICE_MS = 30_000;
/** Most items in one chunk. */
const MAX_CHUNK = 100;
/** Retries due this soon are waited for inside the job (see buildSync). */
const IN_JOB_WAIT_MS = 5_000;
/** Wait before looking again once the daily spend cap is reached. */
const SPEND_CAP_RETRY_MS = 60_000;
const HOST = `${hostname()}:${process.pid}`;

/** Whether `task` runs in sync mode: its own `mode`, or forced by SYNC_TASKS. */
export function isSyncTask(ctx: PipelineContext, task: AnyTask): boolean {
  return task.mode === 'sync' || ctx.config.sync.tasks.includes(task.name);
}

/** Items per chunk: about ten seconds of the fleet's rate, at least one per concurrent request, at most MAX_CHUNK. */
function chunkSize(ctx: PipelineContext, limits: TaskLimits): number {
  const { rpm, concurrency } = ctx.config.sync;
  return Math.min(limits.maxRequestsPerBatch, MAX_CHUNK, Math.max(concurrency, Math.ceil(rpm / 6)));
}

/** Per-process (per-context) state: the concurrency semaphore and the rate limiter. */
interface SyncRuntime { semaphore: Semaphore; limiter: SyncRateLimiter }
const runtimes = new WeakMap<PipelineContext, SyncRuntime>();
function runtime(ctx: PipelineContext): SyncRuntime {
  let rt = runtimes.get(ctx);
  if (!rt) {
    rt = { semaphore: new Semaphore(ctx.config.sync.concurrency), limiter: new SyncRateLimiter(ctx.redis, ctx.config.prefix, ctx.config.sync.rpm) };
    runtimes.set(ctx, rt);
  }
  return rt;
}

/**
 * The build of a sync task: adopt abandoned chunks, then claim and run chunks until nothing is
 * available, the spend cap is reached, or this job's time slice is used up.
 */
export async function buildSync(ctx: PipelineContext, task: AnyTask): Promise<BuildOutcome> {
  const limits = resolveLimits(task);
  const started = Date.now();
  const batches: string[] = [];

  const abandoned = await query<{ id: string }>(
    ctx.db,
    `select id from batches where task = $1 and status = 'building' and provider_status = $2
        and (processing_lease_until is null or processing_lease_until < now()) order by created_at`,
    task.name,
    SYNC_MARKER,
  );
  for (const { id } of abandoned) if (await runChunk(ctx, task, id, newOwner())) batches.push(id);

  for (;;) {
    const cap = ctx.config.dailySpendCapUsd;
    if (cap !== undefined && (await spendToday(ctx)) >= cap) {
      ctx.log.warn({ task: task.name, cap }, 'sync work paused: daily spend cap reached');
      await triggerBuild(ctx.queues, task.name, SPEND_CAP_RETRY_MS);
      return { batches, stoppedBy: 'policy' };
    }
    if (Date.now() - started >= SLICE_MS) {
      await triggerBuild(ctx.queues, task.name); // a follow-up build, possibly in another process
      return { batches, stoppedBy: 'policy' };
    }
    const batchId = randomUUID();
    const owner = newOwner();
    const claimed = await claimItems(
      ctx,
      task,
      batchId,
      { requests: chunkSize(ctx, limits), tokens: Number.MAX_SAFE_INTEGER, bytes: limits.maxBytesPerBatch },
      { providerStatus: SYNC_MARKER, leaseOwner: owner, leaseMs: LEASE_MS },
    );
    if (claimed.length === 0) {
      // Retries due within a few seconds are waited for here rather than through a delayed build
      // job: sync items come back one by one, and delayed build triggers are deduplicated per
      // second (triggers.ts), so a trigger for the second this very job was started for is dropped.
      const waitMs = await nextAvailableInMs(ctx, task.name);
      if (waitMs !== null && waitMs <= IN_JOB_WAIT_MS && Date.now() - started + waitMs < SLICE_MS) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(50, Math.ceil(waitMs))));
        continue;
      }
      await scheduleNextAvailable(ctx, task.name);
      return { batches, stoppedBy: 'empty' };
    }
    await execute(
      ctx.db,
      `update batches set request_count = $2, estimated_tokens = $3, submitted_at = now() where id = $1::uuid`,
      batchId,
      claimed.length,
      claimed.reduce((n, r) => n + Number(r.estimated_tokens), 0),
    );
    await runChunk(ctx, task, batchId, owner);
    batches.push(batchId);
  }
}

function newOwner(): string {
  return `${HOST}:${randomUUID().slice(0, 8)}`;
}

/** Runs the unanswered items of a sync chunk and closes it. False when someone else holds the chunk. */
async function runChunk(ctx: PipelineContext, task: AnyTask, batchId: string, owner: string): Promise<boolean> {
  if (!(await takeLease(ctx, batchId, owner))) return false;
  const limits = resolveLimits(task);
  const items = await query<ItemRow>(
    ctx.db,
    `select id, external_id, input, attempts, requeues, max_output_tokens from items
      where batch_id = $1::uuid and status = 'batched' order by id`,
    batchId,
  );
  let next = 0;
  const lane = async () => {
    while (next < items.length) await runOne(ctx, task, limits, batchId, owner, items[next++]!);
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(ctx.config.sync.concurrency, items.length) }, lane));
  const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failed) throw failed.reason; // the chunk stays open under its lease; it is adopted once the lease lapses

  await execute(
    ctx.db,
    `update batches b set status = 'processed', provider_status = $2, processed_at = now(), terminal_at = now(), status_changed_at = now(),
            processing_owner = null, processing_lease_until = null,
            ${BATCH_ROLLUP_SQL}
      where b.id = $1::uuid and b.status = 'building'
        and not exists (select 1 from items where batch_id = $1::uuid and status = 'batched')`,
    batchId,
    SYNC_MARKER,
  );
  ctx.log.info({ batchId, task: task.name, requests: items.length }, 'sync chunk processed');
  return true;
}

async function takeLease(ctx: PipelineContext, batchId: string, owner: string): Promise<boolean> {
  const taken = await execute(
    ctx.db,
    `update batches set processing_owner = $2, processing_lease_until = now() + ($3 || ' milliseconds')::interval
      where id = $1::uuid and status = 'building' and provider_status = $4
        and (processing_lease_until is null or processing_lease_until < now() or processing_owner = $2)`,
    batchId,
    owner,
    String(LEASE_MS),
    SYNC_MARKER,
  );
  return taken === 1;
}

/** One item: one request (rate-limited, within the process's concurrency), judged and recorded like a batch line. */
async function runOne(ctx: PipelineContext, task: AnyTask, limits: TaskLimits, batchId: string, owner: string, item: ItemRow): Promise<void> {
  const body = task.buildRequest(item.input, { maxOutputTokens: item.max_output_tokens ?? limits.maxOutputTokens });
  const model = typeof body.model === 'string' && body.model ? body.model : task.model;
  const { semaphore, limiter } = runtime(ctx);
  const line = await semaphore.run(async () => {
    await limiter.acquire(model);
    return requestAsLine(ctx, task, item.id, body);
  });
  const verdict = judgeLine(line, task, item.input);
  const usage = verdict.kind === 'not_executed' ? NO_USAGE : verdict.usage;
  const { syncCostUsd } = costPair(usage, task.model, ctx.prices);
  const decision: Decision = {
    ...decide(verdict, item, limits),
    input_tokens: usage.inputTokens,
    cached_tokens: usage.cachedTokens,
    output_tokens: usage.outputTokens,
    cost_usd: syncCostUsd, // paid at the synchronous price: no batch discount, so no savings
    sync_cost_usd: syncCostUsd,
  };
  const announcements = await commitDecisions(ctx, task, batchId, [decision], new Map([[item.id, item]]));
  await announce(ctx, task, announcements);
  await takeLease(ctx, batchId, owner); // renew
}

/** The provider's answer in the shape of a batch output line, so `judgeLine` judges it. */
async function requestAsLine(ctx: PipelineContext, task: AnyTask, itemId: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  try {
    const res = await ctx.provider.request(task.endpoint, body);
    return { custom_id: itemId, response: { status_code: res.status, body: res.body }, error: null };
  } catch (err) {
    // No answer at all: the same as an error line without a response (retryable, an attempt spent).
    const code = err instanceof ProviderError ? (err.code ?? 'connection_error') : 'provider_error';
    ctx.log.warn({ itemId, task: task.name, err: (err as Error).message }, 'sync request got no answer');
    return { custom_id: itemId, response: null, error: { code, message: (err as Error).message } };
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
