/** Item and batch lookups for the CLI: filtered lists and one record in full. */
import { UnknownRecordError } from '../../errors.ts';
import type { Db } from '../db.ts';
import { shownItemStatus, shownItemStatusSql } from '../statuses.ts';
import { query } from '../sql.ts';

const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

export interface ItemRow {
  id: string;
  task: string;
  externalId: string;
  status: string;
  attempts: number;
  requeues: number;
  errorCode: string | null;
  errorMessage: string | null;
  batchId: string | null;
  costUsd: number;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export interface ItemFilter {
  task?: string;
  status?: string;
  reason?: string;
  /** Our batch id or a provider batch id: items in that batch now or with an attempt in it. */
  batch?: string;
  limit?: number;
}

/** Resolves our batch id from our id or a provider id (current or earlier submission); null if unknown. */
export async function resolveBatchId(db: Db, idOrProviderId: string): Promise<string | null> {
  const row = isUuid(idOrProviderId)
    ? await db.batch.findUnique({ where: { id: idOrProviderId.toLowerCase() }, select: { id: true } })
    : await db.batch.findFirst({ where: { OR: [{ providerBatchId: idOrProviderId }, { previousProviderIds: { has: idOrProviderId } }] }, select: { id: true } });
  return row?.id ?? null;
}

/** True when at least one item (or batch) of `task` is on record: a task name the fleet has seen. */
export async function taskOnRecord(db: Db, task: string): Promise<boolean> {
  const [row] = await query<{ found: boolean }>(
    db,
    'select exists (select 1 from items where task = $1) or exists (select 1 from batches where task = $1) as found',
    task,
  );
  return row?.found ?? false;
}

const SHOWN = shownItemStatusSql('i', 'b');

/** Items matching the filter, most recently changed first; `status` is the one a reader sees (`shownItemStatus`). */
export async function listItems(db: Db, filter: ItemFilter): Promise<ItemRow[]> {
  let batchId: string | null = null;
  if (filter.batch) {
    batchId = await resolveBatchId(db, filter.batch);
    if (!batchId) throw new UnknownRecordError('batch', filter.batch);
  }
  const rows = await query<{
    id: string; task: string; external_id: string; status: string; attempts: number; requeues: number; error_code: string | null;
    error_message: string | null; batch_id: string | null; cost_usd: number; created_at: Date; updated_at: Date; finished_at: Date | null;
  }>(
    db,
    `select i.id, i.task, i.external_id, ${SHOWN} as status, i.attempts, i.requeues, i.error_code, i.error_message, i.batch_id,
            i.cost_usd::float8 as cost_usd, i.created_at, i.updated_at, i.finished_at
       from items i left join batches b on i.status = 'batched' and b.id = i.batch_id
      where ($1::text is null or i.task = $1)
        and ($2::text is null or ((i.status = $2 or ($2 = 'submitted' and i.status = 'batched')) and ${SHOWN} = $2))
        and ($3::text is null or i.error_code = $3)
        and ($4::uuid is null or i.id in (select a.item_id from attempts a where a.batch_id = $4::uuid
                                         union all select j.id from items j where j.batch_id = $4::uuid and j.status in ('batched', 'submitted')))
      order by i.updated_at desc, i.id
      limit $5`,
    filter.task ?? null,
    filter.status ?? null,
    filter.reason ?? null,
    batchId,
    filter.limit ?? 50,
  );
  return rows.map((r) => ({
    id: r.id, task: r.task, externalId: r.external_id, status: r.status, attempts: r.attempts, requeues: r.requeues,
    errorCode: r.error_code, errorMessage: r.error_message, batchId: r.batch_id, costUsd: r.cost_usd,
    createdAt: r.created_at, updatedAt: r.updated_at, finishedAt: r.finished_at,
  }));
}

export interface BatchRow {
  id: string;
  task: string;
  model: string;
  endpoint: string;
  status: string;
  providerStatus: string | null;
  providerBatchId: string | null;
  previousProviderIds: string[];
  submission: number;
  heldReason: string | null;
  heldSince: Date | null;
  requestCount: number;
  completedCount: number;
  failedCount: number;
  estimatedTokens: number;
  bytes: number;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  costUsd: number;
  syncCostUsd: number;
  inputFileId: string | null;
  outputFileId: string | null;
  errorFileId: string | null;
  errors: unknown;
  lastError: string | null;
  tokenLimitFailures: number;
  createdAt: Date;
  builtAt: Date | null;
  submittedAt: Date | null;
  expiresAt: Date | null;
  terminalAt: Date | null;
  processedAt: Date | null;
  statusChangedAt: Date;
  cancelRequestedAt: Date | null;
}

const BATCH_COLUMNS = `id, task, model, endpoint, status, provider_status, provider_batch_id, previous_provider_ids, submission, held_reason, held_since,
  request_count, completed_count, failed_count, estimated_tokens::float8 as estimated_tokens, bytes::float8 as bytes,
  input_tokens::float8 as input_tokens, cached_tokens::float8 as cached_tokens, output_tokens::float8 as output_tokens,
  cost_usd::float8 as cost_usd, sync_cost_usd::float8 as sync_cost_usd, input_file_id, output_file_id, error_file_id, errors, last_error,
  token_limit_failures, created_at, built_at, submitted_at, expires_at, terminal_at, processed_at, status_changed_at, cancel_requested_at`;

type RawBatch = Record<string, unknown>;

function toBatch(r: RawBatch): BatchRow {
  return {
    id: r.id as string, task: r.task as string, model: r.model as string, endpoint: r.endpoint as string, status: r.status as string,
    providerStatus: r.provider_status as string | null, providerBatchId: r.provider_batch_id as string | null,
    previousProviderIds: (r.previous_provider_ids as string[] | null) ?? [], submission: r.submission as number,
    heldReason: r.held_reason as string | null, heldSince: r.held_since as Date | null,
    requestCount: r.request_count as number, completedCount: r.completed_count as number, failedCount: r.failed_count as number,
    estimatedTokens: r.estimated_tokens as number, bytes: r.bytes as number,
    inputTokens: r.input_tokens as number, cachedTokens: r.cached_tokens as number, outputTokens: r.output_tokens as number,
    costUsd: r.cost_usd as number, syncCostUsd: r.sync_cost_usd as number,
    inputFileId: r.input_file_id as string | null, outputFileId: r.output_file_id as string | null, errorFileId: r.error_file_id as string | null,
    errors: r.errors ?? null, lastError: r.last_error as string | null, tokenLimitFailures: r.token_limit_failures as number,
    createdAt: r.created_at as Date, builtAt: r.built_at as Date | null, submittedAt: r.submitted_at as Date | null,
    expiresAt: r.expires_at as Date | null, terminalAt: r.terminal_at as Date | null, processedAt: r.processed_at as Date | null,
    statusChangedAt: r.status_changed_at as Date, cancelRequestedAt: r.cancel_requested_at as Date | null,
  };
}

/** Batches matching the filter, newest first. */
export async function listBatches(db: Db, filter: { task?: string; status?: string; limit?: number }): Promise<BatchRow[]> {
  const rows = await query<RawBatch>(
    db,
    `select ${BATCH_COLUMNS} from batches
      where ($1::text is null or task = $1) and ($2::text is null or status = $2)
      order by created_at desc, id limit $3`,
    filter.task ?? null,
    filter.status ?? null,
    filter.limit ?? 50,
  );
  return rows.map(toBatch);
}

export interface BatchDetail extends BatchRow {
  /** Items whose current batch this is, by status. */
  itemsNow: Record<string, number>;
  /** Attempts recorded for this batch, by outcome. */
  attemptsByOutcome: Record<string, number>;
  /** Most frequent error codes among this batch's attempts. */
  topErrors: Array<{ code: string; count: number }>;
}

/** A batch by our id or a provider id, with what happened to its items; null if unknown. */
export async function findBatch(db: Db, idOrProviderId: string): Promise<BatchDetail | null> {
  const id = await resolveBatchId(db, idOrProviderId);
  if (!id) return null;
  const [row] = await query<RawBatch>(db, `select ${BATCH_COLUMNS} from batches where id = $1::uuid`, id);
  if (!row) return null;
  const [now, outcomes, errors] = await Promise.all([
    // Items still in the batch (partial index), plus those whose verdict came from it (attempts); a
    // final item keeps the batch_id of the batch that gave its verdict, and no queued item has one.
    query<{ status: string; n: number }>(
      db,
      `select i.status, count(*)::int as n from items i
        where i.batch_id = $1::uuid
          and i.id in (select j.id from items j where j.batch_id = $1::uuid and j.status in ('batched', 'submitted')
                       union select a.item_id from attempts a where a.batch_id = $1::uuid)
        group by i.status order by i.status`,
      id,
    ),
    query<{ outcome: string; n: number }>(db, 'select outcome, count(*)::int as n from attempts where batch_id = $1::uuid group by outcome order by outcome', id),
    query<{ code: string; n: number }>(
      db,
      `select error_code as code, count(*)::int as n from attempts where batch_id = $1::uuid and error_code is not null group by 1 order by 2 desc, 1 limit 10`,
      id,
    ),
  ]);
  return {
    ...toBatch(row),
    itemsNow: now.reduce<Record<string, number>>((acc, r) => {
      const shown = shownItemStatus(r.status, row.status as string);
      acc[shown] = (acc[shown] ?? 0) + r.n;
      return acc;
    }, {}),
    attemptsByOutcome: Object.fromEntries(outcomes.map((r) => [r.outcome, r.n])),
    topErrors: errors.map((e) => ({ code: e.code, count: e.n })),
  };
}
