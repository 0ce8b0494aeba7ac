/*
 * Poll: one self-rescheduling job per open batch (BullMQ's "delay and DelayedError" step
 * pattern rather than a Job Scheduler). Why: the job id `poll-<batch>-<submission>` makes the
 * loop exist at most once however many times it is (re)created; it ends by itself when the batch
 * is terminal; its interval adapts (fast after a change, slower while nothing changes) without
 * the upsert/remove races of schedulers; and the reconciler recreates it after Redis is lost.
 * Each run is a conditional transition on the batch row, so a duplicate run changes nothing.
 */
import { parseEnqueuedTokenLimit } from '../budget/index.ts';
import { query, execute } from '../db/sql.ts';
import { TERMINAL_PROVIDER_STATUSES, type ProviderBatch } from '../provider/provider.ts';
import type { PipelineContext } from './context.ts';
import { wakeHeld } from './submit.ts';
import { dissolveBatch } from './dissolve.ts';
import { enqueueProcess, enqueueSubmit } from './triggers.ts';

export const PROVIDER_OPEN_STATUSES = ['validating', 'in_progress', 'finalizing', 'cancelling'] as const;

export type PollOutcome =
  | { kind: 'open'; status: string; nextDelayMs: number }
  | { kind: 'terminal'; status: string }
  | { kind: 'resubmit'; delayMs: number; learnedLimit: number | null }
  | { kind: 'gone' };

interface PollRow {
  id: string;
  model: string;
  status: string;
  submission: number;
  provider_batch_id: string | null;
  token_limit_failures: number;
  estimated_tokens: number;
  task: string;
  expires_at: Date | null;
  status_changed_at: Date;
  cancel_requested_at: Date | null;
}

/** Next poll interval: the minimum right after a change, then ×1.5 per unchanged poll up to the maximum. */
export function nextInterval(ctx: PipelineContext, previousMs: number | undefined, changed: boolean): number {
  const { minMs, maxMs } = ctx.config.poll;
  if (changed || previousMs === undefined) return minMs;
  return Math.min(maxMs, Math.ceil(previousMs * 1.5));
}

export async function poll(ctx: PipelineContext, batchId: string, previousIntervalMs?: number): Promise<PollOutcome> {
  const [row] = await query<PollRow>(
    ctx.db,
    `select id, task, model, status, submission, provider_batch_id, token_limit_failures, estimated_tokens::int as estimated_tokens,
            expires_at, status_changed_at, cancel_requested_at
       from batches where id = $1::uuid`,
    batchId,
  );
  if (!row || !row.provider_batch_id || !(PROVIDER_OPEN_STATUSES as readonly string[]).includes(row.status)) return { kind: 'gone' };

  const remote = await ctx.provider.retrieveBatch(row.provider_batch_id);
  const changed = remote.status !== row.status;
  // A terminal status is written only together with its file ids (markTerminal), never alone:
  // a row that says `completed` without its files would requeue every item as unanswered.
  const terminal = TERMINAL_PROVIDER_STATUSES.has(remote.status);
  await execute(
    ctx.db,
    `update batches set completed_count = $3, failed_count = $4,
            status = $5, provider_status = $5, status_changed_at = case when status <> $5 then now() else status_changed_at end
      where id = $1::uuid and status = $2`,
    batchId,
    row.status,
    remote.requestCounts.completed,
    remote.requestCounts.failed,
    terminal ? row.status : remote.status,
  );

  if (terminal) {
    const limitError = remote.status === 'failed' ? remote.errors.find((e) => e.code === 'token_limit_exceeded') : undefined;
    if (limitError) return resubmitAfterTokenLimit(ctx, row, remote, limitError.message ?? '');
    await markTerminal(ctx, row, remote);
    return { kind: 'terminal', status: remote.status };
  }

  await watchDeadlines(ctx, row, remote);
  return { kind: 'open', status: remote.status, nextDelayMs: nextInterval(ctx, previousIntervalMs, changed) };
}

async function markTerminal(ctx: PipelineContext, row: PollRow, remote: ProviderBatch): Promise<void> {
  await execute(
    ctx.db,
    `update batches set status = $2, provider_status = $2, output_file_id = $3, error_file_id = $4, errors = $5::jsonb,
            terminal_at = coalesce(terminal_at, now())
      where id = $1::uuid and status in ('validating', 'in_progress', 'finalizing', 'cancelling', $2)`,
    row.id,
    remote.status,
    remote.outputFileId,
    remote.errorFileId,
    JSON.stringify(remote.errors),
  );
  // The provider frees a batch's enqueued tokens when it ends: so do we, right away.
  await ctx.budget.release(row.model, row.id);
  await enqueueProcess(ctx.queues, row.id);
  await wakeHeld(ctx, row.model);
}

/**
 * The provider refused the batch for its enqueued-token limit anyway. Release the reservation,
 * learn the real limit from the message, and resubmit the same built file after a back-off.
 * No item spends an attempt: the items stay in the batch.
 */
async function resubmitAfterTokenLimit(ctx: PipelineContext, row: PollRow, remote: ProviderBatch, message: string): Promise<PollOutcome> {
  await ctx.budget.release(row.model, row.id);
  const reported = parseEnqueuedTokenLimit(message);
  const learnedLimit = reported === null ? null : await ctx.limits.learn(row.model, reported);
  const effective = await ctx.limits.effective(row.model);
  if (row.estimated_tokens > effective) {
    await execute(ctx.db, 'update batches set token_limit_failures = token_limit_failures + 1 where id = $1::uuid', row.id);
    await dissolveBatch(ctx, row, `${row.estimated_tokens} tokens is more than the ${effective} the learned limit allows`);
    await wakeHeld(ctx, row.model);
    return { kind: 'resubmit', delayMs: 0, learnedLimit };
  }
  const delayMs = Math.min(5 * 60_000, 2_000 * 2 ** Math.min(row.token_limit_failures, 8));
  const reset = await execute(
    ctx.db,
    `update batches set status = 'built', provider_status = 'failed', submission = submission + 1,
            previous_provider_ids = array_append(previous_provider_ids, provider_batch_id), provider_batch_id = null,
            create_started_at = null, token_limit_failures = token_limit_failures + 1, status_changed_at = now(),
            held_reason = $3, held_since = coalesce(held_since, now()), last_error = $4
      where id = $1::uuid and status in ('validating', 'in_progress', 'finalizing', 'cancelling') and provider_batch_id = $2`,
    row.id,
    remote.id,
    `provider refused it: token_limit_exceeded; resubmitting after ${Math.round(delayMs / 1000)} s`,
    message.slice(0, 1_000),
  );
  if (reset === 1) await enqueueSubmit(ctx.queues, row.id, row.submission + 1, delayMs);
  ctx.log.warn({ batchId: row.id, learnedLimit, delayMs }, 'token_limit_exceeded: batch will be resubmitted');
  await wakeHeld(ctx, row.model);
  return { kind: 'resubmit', delayMs, learnedLimit };
}

/** Reports a batch stuck in one status, and cancels one past its window plus the grace period. */
async function watchDeadlines(ctx: PipelineContext, row: PollRow, remote: ProviderBatch): Promise<void> {
  const now = ctx.now().getTime();
  const inStatusMs = now - new Date(row.status_changed_at).getTime();
  if (inStatusMs > ctx.config.stuckAfterMs) {
    ctx.log.warn({ batchId: row.id, status: remote.status, minutes: Math.round(inStatusMs / 60_000) }, 'batch stuck in one status');
  }
  const expiresAt = remote.expiresAt ?? row.expires_at;
  if (expiresAt && now > new Date(expiresAt).getTime() + ctx.config.expiryGraceMs && !row.cancel_requested_at && remote.status !== 'cancelling') {
    await execute(ctx.db, 'update batches set cancel_requested_at = now() where id = $1::uuid', row.id);
    await ctx.provider.cancelBatch(remote.id);
    ctx.log.warn({ batchId: row.id }, 'batch past its window plus grace: cancelled; unfinished items will be requeued');
  }
}
