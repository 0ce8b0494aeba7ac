/**
 * Statements over `batches` (in the manner of pg-boss's plans): every one set-based, every time a
 * parameter from the injected clock, every status write through `transitionBatches`.
 */
import { BATCH_STATUSES, OPEN, PROVIDER_OPEN, RESERVING, TERMINAL, transitionBatches, type BatchMode, type BatchStatus } from './batch-states.ts';
import type { DbTx } from './db.ts';
import { literals, one, raw, rows, run, sql } from './sql.ts';

/** A batch row as every stage reads it: one shape, numbers already numbers. */
export interface BatchRecord {
  id: string;
  task: string;
  model: string;
  endpoint: string;
  mode: BatchMode;
  status: BatchStatus;
  submission: number;
  heldReason: string | null;
  providerBatchId: string | null;
  providerStatus: string | null;
  tokenLimitFailures: number;
  uploadStartedAt: Date | null;
  createStartedAt: Date | null;
  filePath: string | null;
  inputFileId: string | null;
  outputFileId: string | null;
  errorFileId: string | null;
  requestCount: number;
  estimatedTokens: number;
  errors: Array<{ code?: string | null; message?: string | null }> | null;
  lastError: string | null;
  expiresAt: Date | null;
  statusChangedAt: Date;
  cancelRequestedAt: Date | null;
  createdAt: Date;
}

const RECORD = raw(`t.id::text as id, t.task, t.model, t.endpoint, t.mode, t.status, t.submission, t.held_reason as "heldReason",
  t.provider_batch_id as "providerBatchId", t.provider_status as "providerStatus", t.token_limit_failures as "tokenLimitFailures",
  t.upload_started_at as "uploadStartedAt", t.create_started_at as "createStartedAt", t.file_path as "filePath",
  t.input_file_id as "inputFileId", t.output_file_id as "outputFileId", t.error_file_id as "errorFileId",
  t.request_count as "requestCount", t.estimated_tokens::float8 as "estimatedTokens", t.errors, t.last_error as "lastError",
  t.expires_at as "expiresAt", t.status_changed_at as "statusChangedAt", t.cancel_requested_at as "cancelRequestedAt", t.created_at as "createdAt"`);

const byId = (id: string) => sql`t.id = ${id}::uuid`;
const clip = (s: string) => s.slice(0, 1_000);

/** One batch, or undefined. */
export function get(db: DbTx, id: string): Promise<BatchRecord | undefined> {
  return one<BatchRecord>(db, sql`select ${RECORD} from batches t where t.id = ${id}::uuid`);
}

/** The batch with this provider batch id, or undefined. */
export function getByProviderId(db: DbTx, providerBatchId: string): Promise<BatchRecord | undefined> {
  return one<BatchRecord>(db, sql`select ${RECORD} from batches t where t.provider_batch_id = ${providerBatchId}`);
}

/** Opens a batch row in `building` (the claim's first step). A sync chunk is born leased to its owner. */
export async function create(
  db: DbTx,
  b: { id: string; task: string; model: string; endpoint: string; mode: BatchMode; at: Date; lease?: { owner: string; until: Date } },
): Promise<void> {
  await run(
    db,
    sql`insert into batches (id, task, model, endpoint, mode, status, processing_owner, processing_lease_until, created_at, status_changed_at)
        values (${b.id}::uuid, ${b.task}, ${b.model}, ${b.endpoint}, ${b.mode}, 'building', ${b.lease?.owner ?? null},
                ${b.lease?.until ?? null}::timestamptz, ${b.at}::timestamptz, ${b.at}::timestamptz)`,
  );
}

/** Batches not yet processed, of one task or one model (the in-flight caps). */
export async function openCount(db: DbTx, by: { task: string } | { model: string }): Promise<number> {
  const cond = 'task' in by ? sql`task = ${by.task}` : sql`model = ${by.model}`;
  const r = await one<{ n: number }>(db, sql`select count(*)::int as n from batches where ${cond} and status <> 'processed'`);
  return r?.n ?? 0;
}

/** building → built, with the file and the totals of its claimed items. */
export async function markBuilt(db: DbTx, b: { id: string; filePath: string; bytes: number; at: Date }): Promise<boolean> {
  const moved = await transitionBatches(db, {
    from: ['building'],
    to: 'built',
    at: b.at,
    with: sql`s as (select count(*)::int as n, coalesce(sum(estimated_tokens), 0)::bigint as tokens from items where batch_id = ${b.id}::uuid and status = 'batched')`,
    from_: raw('s'),
    set: { file_path: b.filePath, bytes: b.bytes, built_at: sql`${b.at}::timestamptz`, request_count: raw('s.n'), estimated_tokens: raw('s.tokens') },
    where: sql`t.id = ${b.id}::uuid and t.mode = 'batch'`,
  });
  return moved.length === 1;
}

/** A built batch waits (budget, spend cap, provider limit) and says why. Not a status change. */
export async function hold(db: DbTx, id: string, reason: string, at: Date): Promise<void> {
  await run(db, sql`update batches set held_reason = ${reason}, held_since = coalesce(held_since, ${at}::timestamptz) where id = ${id}::uuid and status = 'built'`);
}

/** built → submitting (its reservation is taken). */
export async function startSubmitting(db: DbTx, id: string, at: Date): Promise<boolean> {
  const moved = await transitionBatches(db, { from: ['built'], to: 'submitting', at, set: { held_reason: null, held_since: null }, where: byId(id) });
  return moved.length === 1;
}

/**
 * Intent, recorded before the provider call so that a retry looks for the result first. A
 * compare-and-set on the value the caller read: of two runs that read the same row (a job
 * re-created after a Redis loss while the first still runs), only one may call the provider.
 */
export async function recordIntent(db: DbTx, id: string, step: 'upload' | 'create', seen: Date | null, at: Date): Promise<boolean> {
  const col = raw(step === 'upload' ? 'upload_started_at' : 'create_started_at');
  const seenIso = seen === null ? null : new Date(seen).toISOString();
  const n = await run(db, sql`update batches set ${col} = ${at}::timestamptz where id = ${id}::uuid and ${col} is not distinct from ${seenIso}::timestamptz`);
  return n === 1;
}

/** Forgets an intent whose call the provider refused outright (nothing was made, so a retry need not look for it). */
export async function clearIntent(db: DbTx, id: string, step: 'upload' | 'create'): Promise<void> {
  const col = raw(step === 'upload' ? 'upload_started_at' : 'create_started_at');
  await run(db, sql`update batches set ${col} = null where id = ${id}::uuid`);
}

/** The uploaded input file's id. */
export async function recordInputFile(db: DbTx, id: string, fileId: string): Promise<void> {
  await run(db, sql`update batches set input_file_id = ${fileId} where id = ${id}::uuid`);
}

/** The last error a stage met with this batch (it will retry). */
export async function recordError(db: DbTx, id: string, message: string): Promise<void> {
  await run(db, sql`update batches set last_error = ${clip(message)} where id = ${id}::uuid`);
}

/** submitting → the provider's open status (validating unless it said otherwise). */
export async function markSubmitted(
  db: DbTx,
  b: { id: string; providerBatchId: string; providerStatus: string; expiresAt: Date | null; at: Date },
): Promise<boolean> {
  const to = (PROVIDER_OPEN as readonly string[]).includes(b.providerStatus) ? (b.providerStatus as BatchStatus) : 'validating';
  const moved = await transitionBatches(db, {
    from: ['submitting'],
    to,
    at: b.at,
    set: {
      provider_batch_id: b.providerBatchId,
      provider_status: b.providerStatus,
      submitted_at: sql`${b.at}::timestamptz`,
      expires_at: sql`${b.expiresAt}::timestamptz`,
      last_error: null,
    },
    where: byId(b.id),
  });
  return moved.length === 1;
}

/** submitting → failed: the provider refused the submission for good. */
export async function failSubmission(db: DbTx, id: string, reason: string, at: Date): Promise<boolean> {
  const moved = await transitionBatches(db, { from: ['submitting'], to: 'failed', at, set: { last_error: clip(reason), terminal_at: sql`${at}::timestamptz` }, where: byId(id) });
  return moved.length === 1;
}

/** What the provider says of an open batch: a move to another open status, or new counts only. */
export async function recordProgress(
  db: DbTx,
  b: { id: string; from: BatchStatus; to: BatchStatus; completed: number; failed: number; at: Date },
): Promise<void> {
  if (b.from === b.to) {
    await run(db, sql`update batches set completed_count = ${b.completed}, failed_count = ${b.failed} where id = ${b.id}::uuid and status = ${b.from}`);
    return;
  }
  await transitionBatches(db, {
    from: [b.from],
    to: b.to,
    at: b.at,
    set: { provider_status: b.to, completed_count: b.completed, failed_count: b.failed },
    where: byId(b.id),
  });
}

/** open → terminal, only ever together with its file ids (a terminal row without files would requeue everything). */
export async function markTerminal(
  db: DbTx,
  b: { id: string; to: BatchStatus; outputFileId: string | null; errorFileId: string | null; errors: unknown; completed: number; failed: number; at: Date },
): Promise<boolean> {
  const moved = await transitionBatches(db, {
    from: PROVIDER_OPEN,
    to: b.to,
    at: b.at,
    set: {
      provider_status: b.to,
      output_file_id: b.outputFileId,
      error_file_id: b.errorFileId,
      errors: sql`${JSON.stringify(b.errors ?? null)}::jsonb`,
      terminal_at: sql`coalesce(t.terminal_at, ${b.at}::timestamptz)`,
      completed_count: b.completed,
      failed_count: b.failed,
    },
    where: byId(b.id),
  });
  return moved.length === 1;
}

/** open → built: the provider refused the batch for its token limit; the same file goes again, later. */
export async function resetForResubmit(
  db: DbTx,
  b: { id: string; providerBatchId: string; heldReason: string; lastError: string; at: Date },
): Promise<boolean> {
  const moved = await transitionBatches(db, {
    from: PROVIDER_OPEN,
    to: 'built',
    at: b.at,
    set: {
      provider_status: 'failed',
      submission: raw('t.submission + 1'),
      previous_provider_ids: raw('array_append(t.previous_provider_ids, t.provider_batch_id)'),
      provider_batch_id: null,
      create_started_at: null,
      token_limit_failures: raw('t.token_limit_failures + 1'),
      held_reason: b.heldReason,
      held_since: sql`coalesce(t.held_since, ${b.at}::timestamptz)`,
      last_error: clip(b.lastError),
    },
    where: sql`t.id = ${b.id}::uuid and t.provider_batch_id = ${b.providerBatchId}`,
  });
  return moved.length === 1;
}

/** built | open → processed: the batch can never be accepted; its items are packed again. */
export async function dissolve(db: DbTx, b: { id: string; from: BatchStatus; reason: string; countsAsTokenLimitFailure: boolean; at: Date }): Promise<boolean> {
  const moved = await transitionBatches(db, {
    from: [b.from],
    to: 'processed',
    at: b.at,
    set: {
      processed_at: sql`${b.at}::timestamptz`,
      held_reason: null,
      previous_provider_ids: raw('case when t.provider_batch_id is null then t.previous_provider_ids else array_append(t.previous_provider_ids, t.provider_batch_id) end'),
      provider_batch_id: null,
      last_error: clip(`dissolved: ${b.reason}`),
      ...(b.countsAsTokenLimitFailure ? { token_limit_failures: raw('t.token_limit_failures + 1') } : {}),
    },
    where: byId(b.id),
  });
  return moved.length === 1;
}

/** built → cancelled by an operator before submission. */
export async function cancelUnsubmitted(db: DbTx, id: string, at: Date): Promise<boolean> {
  const moved = await transitionBatches(db, {
    from: ['built'],
    to: 'cancelled',
    at,
    set: {
      cancel_requested_at: sql`${at}::timestamptz`,
      terminal_at: sql`${at}::timestamptz`,
      held_reason: null,
      held_since: null,
      last_error: 'cancelled by an operator before submission',
    },
    where: byId(id),
  });
  return moved.length === 1;
}

/** A cancel was asked of the provider (first time only). Not a status change. */
export async function recordCancelRequested(db: DbTx, id: string, at: Date): Promise<void> {
  await run(db, sql`update batches set cancel_requested_at = coalesce(cancel_requested_at, ${at}::timestamptz) where id = ${id}::uuid`);
}

const ROLLUPS = {
  with: (id: string) =>
    sql`s as (select count(*) filter (where outcome = 'succeeded')::int as ok,
                     count(*) filter (where outcome in ('retry', 'failed'))::int as bad,
                     coalesce(sum(input_tokens), 0) as it, coalesce(sum(cached_tokens), 0) as ct, coalesce(sum(output_tokens), 0) as ot,
                     coalesce(sum(cost_usd), 0) as cost, coalesce(sum(sync_cost_usd), 0) as sync
                from attempts where batch_id = ${id}::uuid)`,
  set: {
    completed_count: raw('s.ok'),
    failed_count: raw('s.bad'),
    input_tokens: raw('s.it'),
    cached_tokens: raw('s.ct'),
    output_tokens: raw('s.ot'),
    cost_usd: raw('s.cost'),
    sync_cost_usd: raw('s.sync'),
  },
};

/** terminal → processed, with roll-ups from its attempts. */
export async function finalize(db: DbTx, id: string, at: Date): Promise<boolean> {
  const moved = await transitionBatches(db, {
    from: TERMINAL,
    to: 'processed',
    at,
    with: ROLLUPS.with(id),
    from_: raw('s'),
    set: { processed_at: sql`${at}::timestamptz`, processing_owner: null, processing_lease_until: null, held_reason: null, ...ROLLUPS.set },
    where: byId(id),
  });
  return moved.length === 1;
}

/** building → processed for a sync chunk whose every item has its verdict. */
export async function finishSyncChunk(db: DbTx, id: string, at: Date): Promise<boolean> {
  const moved = await transitionBatches(db, {
    from: ['building'],
    to: 'processed',
    at,
    with: ROLLUPS.with(id),
    from_: raw('s'),
    set: { processed_at: sql`${at}::timestamptz`, terminal_at: sql`${at}::timestamptz`, processing_owner: null, processing_lease_until: null, ...ROLLUPS.set },
    where: sql`t.id = ${id}::uuid and t.mode = 'sync' and not exists (select 1 from items where batch_id = ${id}::uuid and status = 'batched')`,
  });
  return moved.length === 1;
}

/** Size of a sync chunk once claimed. Not a status change. */
export async function recordChunkSize(db: DbTx, id: string, requests: number, tokens: number, at: Date): Promise<void> {
  await run(db, sql`update batches set request_count = ${requests}, estimated_tokens = ${tokens}, submitted_at = ${at}::timestamptz where id = ${id}::uuid`);
}

/**
 * Takes (or renews) the lease on a batch for `owner` until `until`, if it is free, lapsed or
 * already this owner's, and the batch is in one of `statuses`. Returns the batch when taken.
 */
export function takeLease(
  db: DbTx,
  l: { id: string; owner: string; until: Date; at: Date; statuses: readonly BatchStatus[]; mode: BatchMode },
): Promise<BatchRecord | undefined> {
  return one<BatchRecord>(
    db,
    sql`update batches t set processing_owner = ${l.owner}, processing_lease_until = ${l.until}::timestamptz
         where t.id = ${l.id}::uuid and t.status in (${literals(l.statuses)}) and t.mode = ${l.mode}
           and (t.processing_lease_until is null or t.processing_lease_until < ${l.at}::timestamptz or t.processing_owner = ${l.owner})
         returning ${RECORD}`,
  );
}

/** Extends a lease this owner still holds; false when it was released or taken over meanwhile. */
export async function renewLease(db: DbTx, l: { id: string; owner: string; until: Date }): Promise<boolean> {
  return (await run(db, sql`update batches set processing_lease_until = ${l.until}::timestamptz where id = ${l.id}::uuid and processing_owner = ${l.owner}`)) === 1;
}

/** Gives up leases: one batch's, or every batch an owner holds (shutdown). */
export function releaseLeases(db: DbTx, l: { owner: string; id?: string }): Promise<number> {
  const one_ = l.id ? sql` and id = ${l.id}::uuid` : raw('');
  return run(db, sql`update batches set processing_owner = null, processing_lease_until = null where processing_owner = ${l.owner}${one_}`);
}

/** Sync chunks of a task whose owner's lease has lapsed (their worker died). */
export async function abandonedChunks(db: DbTx, task: string, at: Date): Promise<string[]> {
  const r = await rows<{ id: string }>(
    db,
    sql`select id::text as id from batches where task = ${task} and mode = 'sync' and status = 'building'
          and (processing_lease_until is null or processing_lease_until < ${at}::timestamptz) order by created_at`,
  );
  return r.map((x) => x.id);
}

/** Held built batches of a model, oldest first (to wake their submit jobs). */
export function heldOf(db: DbTx, model: string, limit = 50): Promise<Array<{ id: string; submission: number }>> {
  return rows(db, sql`select id::text as id, submission from batches where model = ${model} and status = 'built' and held_reason is not null order by held_since limit ${limit}`);
}

/** Every batch not yet processed, with how long it has been in its status (the reconciler). */
export function openBatches(db: DbTx, at: Date): Promise<Array<BatchRecord & { ageMs: number }>> {
  return rows(
    db,
    sql`select ${RECORD}, (extract(epoch from ${at}::timestamptz - t.status_changed_at) * 1000)::float8 as "ageMs"
          from batches t where t.status in (${literals(OPEN)})`,
  );
}

/** Of these batch ids, the ones that no longer hold tokens at the provider (ended, processed or unknown). */
export async function notReserving(db: DbTx, ids: readonly string[]): Promise<string[]> {
  const r = await rows<{ id: string }>(
    db,
    sql`select k.id from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb) as k(id)
         where not exists (select 1 from batches b where b.id::text = k.id and b.status in (${literals(['built', ...RESERVING])}))`,
  );
  return r.map((x) => x.id);
}

/** id → provider batch id and status of every batch (orphan reaping). */
export function allIds(db: DbTx): Promise<Array<{ id: string; providerBatchId: string | null; status: BatchStatus }>> {
  return rows(db, sql`select id::text as id, provider_batch_id as "providerBatchId", status from batches`);
}

/**
 * Of these (open) batch ids, the ones holding at least one item and only items whose external id
 * matches the regular expression `pattern` (the demo's batches, by its run ids): another fleet's
 * batches in the same schema never match. An open batch's items are `batched` or `submitted`.
 */
export async function holdingOnlyItemsMatching(db: DbTx, ids: readonly string[], pattern: string): Promise<string[]> {
  if (ids.length === 0) return [];
  const r = await rows<{ id: string }>(
    db,
    sql`select k.id from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb) as k(id)
         where exists (select 1 from items i where i.batch_id = k.id::uuid and i.status in ('batched', 'submitted'))
           and not exists (select 1 from items i where i.batch_id = k.id::uuid and i.status in ('batched', 'submitted') and i.external_id !~ ${pattern})`,
  );
  return r.map((x) => x.id);
}

/**
 * The demo's simulator lived in an earlier process: its open batches (only those whose provider
 * ids `isGone` says it made) can never finish. They end as failed, so their items go back to the
 * queue; built batches of that provider forget their uploaded file.
 */
export async function failGoneProviderBatches(db: DbTx, ids: readonly string[], at: Date): Promise<string[]> {
  if (ids.length === 0) return [];
  const moved = await transitionBatches(db, {
    from: ['submitting', ...PROVIDER_OPEN],
    to: 'failed',
    at,
    set: {
      provider_status: null,
      terminal_at: sql`${at}::timestamptz`,
      output_file_id: null,
      error_file_id: null,
      last_error: 'the simulator of an earlier demo run stopped with this batch open',
    },
    where: sql`t.id::text in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`,
  });
  return moved.map((r) => r.id);
}

/** Forgets the uploaded input file of built batches (their provider is gone; they upload again). */
export async function forgetUploads(db: DbTx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await run(
    db,
    sql`update batches set input_file_id = null, upload_started_at = null, create_started_at = null
         where status = 'built' and id::text in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`,
  );
}

export { BATCH_STATUSES };
