/*
 * Poll: one self-rescheduling job per open batch (BullMQ's "delay and DelayedError" step
 * pattern rather than a Job Scheduler). Why: the job id `poll-<batch>-<submission>` makes the
 * loop exist at most once however many times it is (re)created; it ends by itself when the batch
 * is terminal; its interval adapts (fast after a change, slower while nothing changes) without
 * the upsert/remove races of schedulers; and the reconciler recreates it after Redis is lost.
 * Each run is a conditional transition on the batch row, so a duplicate run changes nothing.
 */
import { parseEnqueuedTokenLimit } from '../budget/index.ts';
import { publishHoldNotice } from '../queues/notices.ts';
import { TERMINAL_PROVIDER_STATUSES, type ProviderBatch } from '../provider/provider.ts';
import { PROVIDER_OPEN, type BatchStatus } from '../store/batch-states.ts';
import * as batches from '../store/batches.ts';
import type { BatchRecord } from '../store/batches.ts';
import type { PipelineContext } from './context.ts';
import { dissolveBatch } from './dissolve.ts';
import { enqueueProcess, enqueueSubmit, wakeHeld } from './triggers.ts';

export type PollOutcome =
  | { kind: 'open'; status: string; nextDelayMs: number }
  | { kind: 'terminal'; status: string }
  | { kind: 'resubmit'; delayMs: number; learnedLimit: number | null }
  | { kind: 'gone' };

/** Next poll interval: the minimum right after a change, then ×1.5 per unchanged poll up to the maximum. */
export function nextInterval(ctx: Pick<PipelineContext, 'config'>, previousMs: number | undefined, changed: boolean): number {
  const { minMs, maxMs } = ctx.config.poll;
  if (changed || previousMs === undefined) return minMs;
  return Math.min(maxMs, Math.ceil(previousMs * 1.5));
}

export async function poll(ctx: PipelineContext, batchId: string, previousIntervalMs?: number): Promise<PollOutcome> {
  const row = await batches.get(ctx.db, batchId);
  if (!row || !row.providerBatchId || !PROVIDER_OPEN.includes(row.status)) return { kind: 'gone' };

  const remote = await ctx.provider.retrieveBatch(row.providerBatchId);
  const changed = remote.status !== row.status;
  // A terminal status is written only together with its file ids (markTerminal), never alone:
  // a row that says `completed` without its files would requeue every item as unanswered.
  if (TERMINAL_PROVIDER_STATUSES.has(remote.status)) {
    const limitError = remote.status === 'failed' ? remote.errors.find((e) => e.code === 'token_limit_exceeded') : undefined;
    if (limitError) return resubmitAfterTokenLimit(ctx, row, remote, limitError.message ?? '');
    await batches.markTerminal(ctx.db, {
      id: row.id,
      to: remote.status as BatchStatus,
      outputFileId: remote.outputFileId,
      errorFileId: remote.errorFileId,
      errors: remote.errors,
      completed: remote.requestCounts.completed,
      failed: remote.requestCounts.failed,
      at: ctx.now(),
    });
    // The provider frees a batch's enqueued tokens when it ends: so do we, right away.
    await ctx.budget.release(row.model, row.id);
    await enqueueProcess(ctx, row.id);
    await wakeHeld(ctx, row.model);
    return { kind: 'terminal', status: remote.status };
  }

  await batches.recordProgress(ctx.db, {
    id: row.id,
    from: row.status,
    to: remote.status as BatchStatus,
    completed: remote.requestCounts.completed,
    failed: remote.requestCounts.failed,
    at: ctx.now(),
  });
  await watchDeadlines(ctx, row, remote);
  return { kind: 'open', status: remote.status, nextDelayMs: nextInterval(ctx, previousIntervalMs, changed) };
}

/**
 * The provider refused the batch for its enqueued-token limit anyway. Release the reservation,
 * learn the real limit from the message, and resubmit the same built file after a back-off.
 * No item spends an attempt: the items stay in the batch.
 */
async function resubmitAfterTokenLimit(ctx: PipelineContext, row: BatchRecord, remote: ProviderBatch, message: string): Promise<PollOutcome> {
  await ctx.budget.release(row.model, row.id);
  const reported = parseEnqueuedTokenLimit(message);
  const learnedLimit = reported === null ? null : await ctx.limits.learn(row.model, reported);
  const effective = await ctx.limits.effective(row.model);
  if (row.estimatedTokens > effective) {
    await dissolveBatch(ctx, row, `${row.estimatedTokens} tokens is more than the ${effective} the learned limit allows`, { tokenLimitFailure: true });
    return { kind: 'resubmit', delayMs: 0, learnedLimit };
  }
  const delayMs = Math.min(5 * 60_000, 2_000 * 2 ** Math.min(row.tokenLimitFailures, 8));
  const reset = await batches.resetForResubmit(ctx.db, {
    id: row.id,
    providerBatchId: remote.id,
    heldReason: `provider refused it: token_limit_exceeded; resubmitting after ${Math.round(delayMs / 1000)} s`,
    lastError: message,
    at: ctx.now(),
  });
  if (reset) {
    await enqueueSubmit(ctx, row.id, row.submission + 1, delayMs);
    await publishHoldNotice(ctx.redis, ctx.config.prefix, { task: row.task, reason: `provider limit reached for ${row.model} (enqueued-limit refusal); resubmitting later`, retryInMs: delayMs, batchId: row.id }, ctx.now());
  }
  ctx.log.warn({ batchId: row.id, learnedLimit, delayMs }, 'token_limit_exceeded: batch will be resubmitted');
  await wakeHeld(ctx, row.model);
  return { kind: 'resubmit', delayMs, learnedLimit };
}

/** Reports a batch stuck in one status, and cancels one past its window plus the grace period. */
async function watchDeadlines(ctx: PipelineContext, row: BatchRecord, remote: ProviderBatch): Promise<void> {
  const now = ctx.now().getTime();
  const inStatusMs = now - new Date(row.statusChangedAt).getTime();
  if (inStatusMs > ctx.config.stuckAfterMs) {
    ctx.log.warn({ batchId: row.id, status: remote.status, minutes: Math.round(inStatusMs / 60_000) }, 'batch stuck in one status');
  }
  const expiresAt = remote.expiresAt ?? row.expiresAt;
  if (expiresAt && now > new Date(expiresAt).getTime() + ctx.config.expiryGraceMs && !row.cancelRequestedAt && remote.status !== 'cancelling') {
    await batches.recordCancelRequested(ctx.db, row.id, ctx.now());
    await ctx.provider.cancelBatch(remote.id);
    ctx.log.warn({ batchId: row.id }, 'batch past its window plus grace: cancelled; unfinished items will be requeued');
  }
}
