/**
 * Submit: gate on the spend cap and the token budget, record the intent, upload the file and
 * create the batch with our id in its metadata. Retries look for an earlier upload or batch
 * before making another, and `batches.create` is never retried by the SDK, so a batch is never
 * submitted twice.
 */
import { ProviderError } from '../errors.ts';
import { clearHoldNotice, publishHoldNotice } from '../queues/notices.ts';
import * as batches from '../store/batches.ts';
import type { BatchRecord } from '../store/batches.ts';
import { batchFileName, batchLines, META_BATCH_ID, META_SUBMISSION } from './batch-file.ts';
import type { PipelineContext } from './context.ts';
import { dissolveBatch } from './dissolve.ts';
import { spendToday } from './spend.ts';
import { enqueuePoll, enqueueProcess } from './triggers.ts';

export { META_BATCH_ID, META_SUBMISSION };

export type SubmitOutcome =
  | { kind: 'submitted'; providerBatchId: string }
  | { kind: 'held'; reason: string; retryInMs: number }
  | { kind: 'skipped'; status: string };

const HOLD_RETRY_MS = 15_000;
const NEVER_FITS = 'never fits';

/** Gates a built batch: spend cap, then the model's token budget. Returns a hold reason, NEVER_FITS, or null. */
async function gate(ctx: PipelineContext, batch: BatchRecord): Promise<string | null> {
  const cap = ctx.config.dailySpendCapUsd;
  if (cap !== undefined) {
    const spent = await spendToday(ctx);
    if (spent >= cap) return `daily spend cap reached: $${spent.toFixed(4)} of $${cap}`;
  }
  const limit = await ctx.limits.effective(batch.model);
  if (batch.estimatedTokens > limit) return NEVER_FITS;
  const r = await ctx.budget.reserve(batch.model, batch.id, batch.estimatedTokens, limit);
  if (!r.ok) return `token budget for ${batch.model}: needs ${batch.estimatedTokens}, ${r.used} of ${r.limit} reserved`;
  return null;
}

export async function submit(ctx: PipelineContext, batchId: string): Promise<SubmitOutcome> {
  let batch = await batches.get(ctx.db, batchId);
  if (!batch) return { kind: 'skipped', status: 'missing' };
  if (batch.status === 'built') {
    const heldBy = await gate(ctx, batch);
    if (heldBy === NEVER_FITS) {
      await dissolveBatch(ctx, batch, `${batch.estimatedTokens} tokens is more than ${batch.model}'s current limit allows`);
      return { kind: 'skipped', status: 'dissolved' };
    }
    if (heldBy) {
      await batches.hold(ctx.db, batchId, heldBy, ctx.now());
      // Producers see why their work waits, and for how long (batchfleet/client status()).
      await publishHoldNotice(ctx.redis, ctx.config.prefix, { task: batch.task, reason: heldBy, retryInMs: HOLD_RETRY_MS, batchId }, ctx.now());
      ctx.log.info({ batchId, reason: heldBy }, 'batch held');
      return { kind: 'held', reason: heldBy, retryInMs: HOLD_RETRY_MS };
    }
    if (!(await batches.startSubmitting(ctx.db, batchId, ctx.now()))) return { kind: 'skipped', status: 'raced' };
    await clearHoldNotice(ctx.redis, ctx.config.prefix, batch.task);
    batch = { ...batch, status: 'submitting' };
  }
  if (batch.status !== 'submitting') return { kind: 'skipped', status: batch.status };

  try {
    const inputFileId = batch.inputFileId ?? (await upload(ctx, batch));
    if (inputFileId instanceof NotVisibleYet) return inputFileId.outcome;
    const created = await create(ctx, batch, inputFileId);
    if (created instanceof NotVisibleYet) return created.outcome;
    const moved = await batches.markSubmitted(ctx.db, { id: batchId, providerBatchId: created.id, providerStatus: created.status, expiresAt: created.expiresAt, at: ctx.now() });
    if (moved) await enqueuePoll(ctx, batchId, batch.submission);
    ctx.log.info({ batchId, providerBatchId: created.id }, 'batch submitted');
    return { kind: 'submitted', providerBatchId: created.id };
  } catch (err) {
    if (err instanceof ProviderError && !err.retryable) {
      if (await batches.failSubmission(ctx.db, batch.id, err.message, ctx.now())) await enqueueProcess(ctx, batch.id);
      ctx.log.error({ batchId: batch.id, reason: err.message }, 'submission refused; the batch fails and its items are requeued');
      return { kind: 'skipped', status: 'failed' };
    }
    await batches.recordError(ctx.db, batchId, (err as Error).message);
    throw err;
  }
}

/**
 * An earlier attempt started this upload or create and did not record its result; the provider
 * does not list the object yet, and may still within its visibility window. The job waits (no
 * attempt spent) rather than make a second one.
 */
class NotVisibleYet {
  constructor(readonly outcome: SubmitOutcome) {}
}

function stillWithinVisibility(ctx: PipelineContext, startedAt: Date, what: string): NotVisibleYet | null {
  const left = new Date(startedAt).getTime() + ctx.config.timings.providerVisibilityMs - ctx.now().getTime();
  if (left <= 0) return null;
  return new NotVisibleYet({ kind: 'held', reason: `waiting for an earlier ${what} to show at the provider`, retryInMs: Math.min(left, 5_000) });
}

/** Another run of this submission recorded its intent first: it makes the call; this one waits and then looks. */
function anotherRunStarted(what: string): NotVisibleYet {
  return new NotVisibleYet({ kind: 'held', reason: `another run is making the ${what}`, retryInMs: 5_000 });
}

async function upload(ctx: PipelineContext, batch: BatchRecord): Promise<string | NotVisibleYet> {
  const filename = batchFileName(batch.id);
  if (batch.uploadStartedAt) {
    const earlier = await ctx.provider.findFileByName(filename);
    if (earlier) {
      await batches.recordInputFile(ctx.db, batch.id, earlier.id);
      return earlier.id;
    }
    const wait = stillWithinVisibility(ctx, batch.uploadStartedAt, 'upload');
    if (wait) return wait;
  }
  let path = batch.filePath;
  if (!path || !(await ctx.files.exists(path))) {
    // Built on another host (or its disk was lost): the file is rewritten from the claimed items.
    path = (await ctx.files.writeLines(batch.id, batchLines(ctx, ctx.registry.get(batch.task), batch.id))).path;
  }
  if (!(await batches.recordIntent(ctx.db, batch.id, 'upload', batch.uploadStartedAt ?? null, ctx.now()))) return anotherRunStarted('upload');
  const file = await refusedOutright(ctx, batch.id, 'upload', ctx.provider.uploadFile(path, filename));
  await batches.recordInputFile(ctx.db, batch.id, file.id);
  return file.id;
}

async function create(ctx: PipelineContext, batch: BatchRecord, inputFileId: string) {
  const submission = String(batch.submission);
  if (batch.createStartedAt) {
    const earlier = await ctx.provider.findBatchByMetadata(META_BATCH_ID, batch.id);
    if (earlier && earlier.metadata[META_SUBMISSION] === submission) {
      ctx.log.warn({ batchId: batch.id, providerBatchId: earlier.id }, 'adopted a batch created by an earlier attempt');
      return earlier;
    }
    const wait = stillWithinVisibility(ctx, batch.createStartedAt, 'create');
    if (wait) return wait;
  }
  if (!(await batches.recordIntent(ctx.db, batch.id, 'create', batch.createStartedAt ?? null, ctx.now()))) return anotherRunStarted('create');
  return refusedOutright(
    ctx,
    batch.id,
    'create',
    ctx.provider.createBatch({
      inputFileId,
      endpoint: batch.endpoint,
      metadata: { [META_BATCH_ID]: batch.id, [META_SUBMISSION]: submission, batchfleet_task: batch.task },
    }),
  );
}

/**
 * A 4xx answer (429 included) means the provider refused the call and made nothing: the intent is
 * cleared so the retry calls again at once. Anything else (5xx, a lost connection) may have made
 * the object, so the intent stays and the retry looks for it first.
 */
async function refusedOutright<T>(ctx: PipelineContext, batchId: string, step: 'upload' | 'create', call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof ProviderError && err.status !== undefined && err.status >= 400 && err.status < 500) await batches.clearIntent(ctx.db, batchId, step);
    throw err;
  }
}
