import { query, execute } from '../db/sql.ts';
import { batchLines } from './build.ts';
import { dissolveBatch } from './dissolve.ts';
import { ProviderError } from '../errors.ts';
import { jobIds } from '../queues/names.ts';
import type { PipelineContext } from './context.ts';
import { enqueuePoll, enqueueProcess } from './triggers.ts';

/** Metadata keys that carry our batch id to the provider, so a lost response can be found again. */
export const META_BATCH_ID = 'batchfleet_batch_id';
export const META_SUBMISSION = 'batchfleet_submission';

export type SubmitOutcome =
  | { kind: 'submitted'; providerBatchId: string }
  | { kind: 'held'; reason: string; retryInMs: number }
  | { kind: 'skipped'; status: string };

interface BatchRow {
  id: string;
  task: string;
  model: string;
  endpoint: string;
  status: string;
  submission: number;
  file_path: string | null;
  input_file_id: string | null;
  estimated_tokens: number;
  upload_started_at: Date | null;
  create_started_at: Date | null;
}

export async function loadBatchForSubmit(ctx: PipelineContext, batchId: string): Promise<BatchRow | undefined> {
  const [row] = await query<BatchRow>(
    ctx.db,
    `select id, task, model, endpoint, status, submission, file_path, input_file_id, estimated_tokens::int as estimated_tokens,
            upload_started_at, create_started_at
       from batches where id = $1::uuid`,
    batchId,
  );
  return row;
}

async function hold(ctx: PipelineContext, batchId: string, reason: string, retryInMs: number): Promise<SubmitOutcome> {
  await execute(
    ctx.db,
    `update batches set held_reason = $2, held_since = coalesce(held_since, now()) where id = $1::uuid and status = 'built'`,
    batchId,
    reason,
  );
  ctx.log.info({ batchId, reason }, 'batch held');
  return { kind: 'held', reason, retryInMs };
}

/** Today's spend (UTC day) from recorded attempts. */
export async function spendToday(ctx: PipelineContext): Promise<number> {
  const [row] = await query<{ usd: number }>(
    ctx.db,
    `select coalesce(sum(cost_usd), 0)::float8 as usd from attempts where created_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'`,
  );
  return row?.usd ?? 0;
}

const NEVER_FITS = 'never fits';

/** Gates a built batch: spend cap, then the model's token budget. Returns a hold reason, NEVER_FITS, or null. */
async function gate(ctx: PipelineContext, batch: BatchRow): Promise<string | null> {
  const cap = ctx.config.dailySpendCapUsd;
  if (cap !== undefined) {
    const spent = await spendToday(ctx);
    if (spent >= cap) return `daily spend cap reached: $${spent.toFixed(4)} of $${cap}`;
  }
  const limit = await ctx.limits.effective(batch.model);
  if (batch.estimated_tokens > limit) return NEVER_FITS;
  const r = await ctx.budget.reserve(batch.model, batch.id, batch.estimated_tokens, limit);
  if (!r.ok) return `token budget for ${batch.model}: needs ${batch.estimated_tokens}, ${r.used} of ${r.limit} reserved`;
  return null;
}

/**
 * Submit: gate on budget, record the intent, upload the file and create the batch with our id in
 * its metadata. Retries look for an earlier upload or batch before making another, and
 * `batches.create` is never retried by the SDK, so a batch is never submitted twice.
 */
export async function submit(ctx: PipelineContext, batchId: string): Promise<SubmitOutcome> {
  let batch = await loadBatchForSubmit(ctx, batchId);
  if (!batch) return { kind: 'skipped', status: 'missing' };
  if (batch.status === 'built') {
    const heldBy = await gate(ctx, batch);
    if (heldBy === NEVER_FITS) {
      await dissolveBatch(ctx, batch, `${batch.estimated_tokens} tokens is more than ${batch.model}'s current limit allows`);
      return { kind: 'skipped', status: 'dissolved' };
    }
    if (heldBy) return hold(ctx, batchId, heldBy, 15_000);
    const moved = await execute(
      ctx.db,
      `update batches set status = 'submitting', held_reason = null, held_since = null, status_changed_at = now()
        where id = $1::uuid and status = 'built'`,
      batchId,
    );
    if (moved === 0) return { kind: 'skipped', status: 'raced' };
    batch = { ...batch, status: 'submitting' };
  }
  if (batch.status !== 'submitting') return { kind: 'skipped', status: batch.status };

  try {
    const inputFileId = batch.input_file_id ?? (await upload(ctx, batch));
    const created = await create(ctx, batch, inputFileId);
    const updated = await execute(
      ctx.db,
      `update batches set provider_batch_id = $2, provider_status = $3,
              status = case when $3 in ('validating', 'in_progress', 'finalizing', 'cancelling') then $3 else 'validating' end,
              submitted_at = now(), status_changed_at = now(),
              expires_at = $4, last_error = null
        where id = $1::uuid and status = 'submitting'`,
      batchId,
      created.id,
      created.status,
      created.expiresAt,
    );
    if (updated === 1) {
      await execute(ctx.db, `update items set status = 'submitted', updated_at = now() where batch_id = $1::uuid and status = 'batched'`, batchId);
      await enqueuePoll(ctx.queues, batchId, batch.submission);
    }
    ctx.log.info({ batchId, providerBatchId: created.id }, 'batch submitted');
    return { kind: 'submitted', providerBatchId: created.id };
  } catch (err) {
    if (err instanceof ProviderError && !err.retryable) {
      await failLocally(ctx, batch, err.message);
      return { kind: 'skipped', status: 'failed' };
    }
    await execute(ctx.db, 'update batches set last_error = $2 where id = $1::uuid', batchId, (err as Error).message.slice(0, 1_000));
    throw err;
  }
}

async function upload(ctx: PipelineContext, batch: BatchRow): Promise<string> {
  const filename = `batchfleet-${batch.id}.jsonl`;
  if (batch.upload_started_at) {
    const earlier = await ctx.provider.findFileByName(filename);
    if (earlier) return recordFile(ctx, batch.id, earlier.id);
  }
  let path = batch.file_path;
  if (!path || !(await ctx.store.exists(path))) {
    // Built on another host (or its disk was lost): the file is rewritten from the claimed items.
    path = (await ctx.store.writeLines(batch.id, batchLines(ctx, ctx.registry.get(batch.task), batch.id))).path;
  }
  await execute(ctx.db, 'update batches set upload_started_at = now() where id = $1::uuid', batch.id);
  const file = await ctx.provider.uploadFile(path, filename);
  return recordFile(ctx, batch.id, file.id);
}

async function recordFile(ctx: PipelineContext, batchId: string, fileId: string): Promise<string> {
  await execute(ctx.db, 'update batches set input_file_id = $2 where id = $1::uuid', batchId, fileId);
  return fileId;
}

async function create(ctx: PipelineContext, batch: BatchRow, inputFileId: string) {
  const submission = String(batch.submission);
  if (batch.create_started_at) {
    const earlier = await ctx.provider.findBatchByMetadata(META_BATCH_ID, batch.id);
    if (earlier && earlier.metadata[META_SUBMISSION] === submission) {
      ctx.log.warn({ batchId: batch.id, providerBatchId: earlier.id }, 'adopted a batch created by an earlier attempt');
      return earlier;
    }
  }
  await execute(ctx.db, 'update batches set create_started_at = now() where id = $1::uuid', batch.id);
  return ctx.provider.createBatch({
    inputFileId,
    endpoint: batch.endpoint,
    metadata: { [META_BATCH_ID]: batch.id, [META_SUBMISSION]: submission, batchfleet_task: batch.task },
  });
}

/** A submission the provider refused for good: the batch ends `failed` here and its items go back. */
async function failLocally(ctx: PipelineContext, batch: BatchRow, reason: string): Promise<void> {
  const moved = await execute(
    ctx.db,
    `update batches set status = 'failed', last_error = $2, terminal_at = now(), status_changed_at = now()
      where id = $1::uuid and status = 'submitting'`,
    batch.id,
    reason.slice(0, 1_000),
  );
  ctx.log.error({ batchId: batch.id, reason }, 'submission refused; the batch fails and its items are requeued');
  if (moved === 1) await enqueueProcess(ctx.queues, batch.id);
}

/** Wakes the held submit jobs of a model: called whenever a reservation is released. */
export async function wakeHeld(ctx: PipelineContext, model: string): Promise<void> {
  const held = await query<{ id: string; submission: number }>(
    ctx.db,
    `select id, submission from batches where model = $1 and status = 'built' and held_reason is not null order by held_since limit 50`,
    model,
  );
  for (const b of held) {
    const job = await ctx.queues.submit.getJob(jobIds.submit(b.id, b.submission));
    if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
  }
}
