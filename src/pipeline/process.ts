/*
 * Process: turns a terminal batch's output and error files into per-item verdicts.
 * Why it is safe to run twice, or in two workers at once: a lease on the batch row lets one
 * worker stream the files at a time; each chunk of lines commits in one transaction whose gate is
 * the attempts table's unique (item, batch): an attempt row that already exists means the line
 * was handled, so its item update, cost and hook call are skipped. Hooks run inside that same
 * transaction (under a savepoint), so a hook's database writes commit exactly once with the result.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { query, execute, rowsParam } from '../db/sql.ts';
import type { DbTx } from '../db/client.ts';
import { costPair } from '../pricing/index.ts';
import { hooksEnabled, type CommittedResult } from '../queues/result-jobs.ts';
import { publishResults } from '../queues/result-publisher.ts';
import { resolveLimits, type AnyTask, type TaskLimits } from '../tasks/contract.ts';
import type { PipelineContext } from './context.ts';
import { wakeHeld } from './submit.ts';
import { triggerBuild } from './triggers.ts';
import { judgeLine, NO_USAGE, type LineVerdict, type Usage } from './verdicts.ts';

export const TERMINAL_BATCH_STATUSES = ['completed', 'expired', 'failed', 'cancelled'] as const;
const CHUNK = 1_000;
const LEASE_MS = 120_000;
const OWNER = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

export type ProcessOutcome =
  | { kind: 'processed'; lines: number; succeeded: number; retried: number; failed: number; requeued: number }
  | { kind: 'busy' }
  | { kind: 'done' };

interface BatchRow {
  id: string;
  task: string;
  model: string;
  status: string;
  input_file_id: string | null;
  output_file_id: string | null;
  error_file_id: string | null;
  file_path: string | null;
  errors: Array<{ message?: string | null }> | null;
  last_error: string | null;
}

/** An item as a verdict needs it (also used by the sync stage). */
export interface ItemRow {
  id: string;
  external_id: string;
  input: unknown;
  attempts: number;
  requeues: number;
  max_output_tokens: number | null;
}

/** The decision for one item: its attempt row and its next state. */
export interface Decision {
  item_id: string;
  outcome: 'succeeded' | 'retry' | 'failed' | 'not_executed';
  status: 'succeeded' | 'queued' | 'failed';
  error_code: string | null;
  error_message: string | null;
  output: unknown;
  attempts_inc: number;
  requeues_inc: number;
  delay_ms: number;
  max_output_tokens: number | null;
  input_tokens: number;
  cached_tokens: number;
  output_tokens: number;
  cost_usd: number;
  sync_cost_usd: number;
}

interface Tally { lines: number; succeeded: number; retried: number; failed: number; requeued: number }

/** Applies the task's retry policy to a line verdict. */
export function decide(verdict: LineVerdict, item: ItemRow, limits: TaskLimits): Omit<Decision, 'input_tokens' | 'cached_tokens' | 'output_tokens' | 'cost_usd' | 'sync_cost_usd'> {
  const base = { item_id: item.id, output: null, attempts_inc: 1, requeues_inc: 0, delay_ms: 0, max_output_tokens: item.max_output_tokens };
  switch (verdict.kind) {
    case 'succeeded':
      return { ...base, outcome: 'succeeded', status: 'succeeded', error_code: null, error_message: null, output: verdict.output };
    case 'permanent':
      return { ...base, outcome: 'failed', status: 'failed', error_code: verdict.code, error_message: verdict.message };
    case 'retryable': {
      if (item.attempts + 1 >= limits.maxAttempts) {
        return { ...base, outcome: 'failed', status: 'failed', error_code: verdict.code, error_message: `gave up after ${item.attempts + 1} attempts: ${verdict.message}` };
      }
      const budget = item.max_output_tokens ?? limits.maxOutputTokens ?? 1_024;
      return {
        ...base,
        outcome: 'retry',
        status: 'queued',
        error_code: verdict.code,
        error_message: verdict.message,
        delay_ms: limits.retryDelayMs * 2 ** item.attempts,
        max_output_tokens: verdict.truncated ? Math.min(limits.maxOutputTokensCeiling, Math.ceil(budget * limits.truncationGrowth)) : item.max_output_tokens,
      };
    }
    case 'not_executed': {
      const exhausted = item.requeues + 1 > limits.maxRequeues;
      return {
        ...base,
        outcome: 'not_executed',
        status: exhausted ? 'failed' : 'queued',
        error_code: exhausted ? 'not_executed' : verdict.code,
        error_message: exhausted ? `never executed after ${item.requeues + 1} batches: ${verdict.message}` : verdict.message,
        attempts_inc: 0,
        requeues_inc: 1,
      };
    }
  }
}

async function acquireLease(ctx: PipelineContext, batchId: string): Promise<BatchRow | 'busy' | 'done'> {
  const [row] = await query<BatchRow>(
    ctx.db,
    `update batches set processing_owner = $2, processing_lease_until = now() + ($3 || ' milliseconds')::interval
      where id = $1::uuid and status in ('completed', 'expired', 'failed', 'cancelled')
        and (processing_lease_until is null or processing_lease_until < now() or processing_owner = $2)
      returning id, task, model, status, input_file_id, output_file_id, error_file_id, file_path, errors, last_error`,
    batchId,
    OWNER,
    String(LEASE_MS),
  );
  if (row) return row;
  const [current] = await query<{ status: string }>(ctx.db, 'select status from batches where id = $1::uuid', batchId);
  return !current || current.status === 'processed' || !(TERMINAL_BATCH_STATUSES as readonly string[]).includes(current.status) ? 'done' : 'busy';
}

async function renewLease(ctx: PipelineContext, batchId: string): Promise<void> {
  await execute(
    ctx.db,
    `update batches set processing_lease_until = now() + ($3 || ' milliseconds')::interval where id = $1::uuid and processing_owner = $2`,
    batchId,
    OWNER,
    String(LEASE_MS),
  );
}

/** Gives up this process's processing leases (on shutdown), so another worker may take the batches over at once. */
export async function releaseProcessingLeases(ctx: PipelineContext): Promise<number> {
  return execute(ctx.db, `update batches set processing_owner = null, processing_lease_until = null where processing_owner = $1`, OWNER);
}

/**
 * Commits one chunk of decisions: attempt rows first (the idempotency gate), then the item rows
 * whose attempt was new, then the hooks. Returns the announcements to publish after commit.
 * Shared with the sync stage, whose requests are recorded exactly like batch lines.
 */
export async function commitDecisions(
  ctx: PipelineContext,
  task: AnyTask,
  batchId: string,
  decisions: Decision[],
  items: Map<string, ItemRow>,
): Promise<CommittedResult[]> {
  if (decisions.length === 0) return [];
  return ctx.db.$transaction(
    async (tx) => {
      const updated = await query<CommittedResult>(
        tx,
        `with d as (
           select * from jsonb_to_recordset($2::jsonb) as d(item_id uuid, outcome text, status text, error_code text, error_message text,
             output jsonb, attempts_inc int, requeues_inc int, delay_ms bigint, max_output_tokens int,
             input_tokens int, cached_tokens int, output_tokens int, cost_usd numeric, sync_cost_usd numeric)
         ), ins as (
           insert into attempts (item_id, batch_id, outcome, error_code, error_message, input_tokens, cached_tokens, output_tokens, cost_usd, sync_cost_usd)
           select item_id, $1::uuid, outcome, error_code, error_message, input_tokens, cached_tokens, output_tokens, cost_usd, sync_cost_usd from d
           on conflict (item_id, batch_id) do nothing
           returning item_id
         )
         update items i set
           status = d.status,
           attempts = i.attempts + d.attempts_inc,
           requeues = i.requeues + d.requeues_inc,
           batch_id = case when d.status = 'queued' then null else i.batch_id end,
           available_at = now() + (d.delay_ms || ' milliseconds')::interval,
           max_output_tokens = d.max_output_tokens,
           output = coalesce(d.output, i.output),
           error_code = d.error_code,
           error_message = d.error_message,
           input_tokens = i.input_tokens + d.input_tokens,
           cached_tokens = i.cached_tokens + d.cached_tokens,
           output_tokens = i.output_tokens + d.output_tokens,
           cost_usd = i.cost_usd + d.cost_usd,
           sync_cost_usd = i.sync_cost_usd + d.sync_cost_usd,
           finished_at = case when d.status in ('succeeded', 'failed') then now() end,
           updated_at = now()
         from d join ins on ins.item_id = d.item_id
         where i.id = d.item_id and i.batch_id = $1::uuid and i.status in ('batched', 'submitted')
         returning i.id, i.external_id, i.status, i.output, i.error_code, i.error_message, i.attempts, i.requeues,
                   i.input_tokens, i.cached_tokens, i.output_tokens, i.cost_usd::float8 as cost_usd, i.finished_at,
                   case when i.status = 'failed' then
                     coalesce((select jsonb_agg(jsonb_build_object('batchId', a.batch_id, 'outcome', a.outcome, 'errorCode', a.error_code,
                                 'errorMessage', a.error_message, 'inputTokens', a.input_tokens, 'outputTokens', a.output_tokens,
                                 'costUsd', a.cost_usd, 'at', a.created_at) order by a.created_at, a.id)
                                 from attempts a where a.item_id = i.id), '[]'::jsonb)
                     || jsonb_build_array(jsonb_build_object('batchId', $1::uuid, 'outcome', d.outcome, 'errorCode', d.error_code,
                                 'errorMessage', d.error_message, 'inputTokens', d.input_tokens, 'outputTokens', d.output_tokens,
                                 'costUsd', d.cost_usd, 'at', now()))
                   end as history`,
        batchId,
        rowsParam(decisions),
      );
      const finals = updated.filter((row) => row.status === 'succeeded' || row.status === 'failed');
      for (const row of finals) await runHook(ctx, tx, task, row, items.get(row.id)!);
      return finals;
    },
    { timeout: 120_000, maxWait: 30_000 },
  );
}

/** Runs onResult / onFailure under a savepoint: a throwing hook is logged and rolled back alone. */
async function runHook(
  ctx: PipelineContext,
  tx: DbTx,
  task: AnyTask,
  row: { id: string; status: string; output: unknown; error_code: string | null; error_message: string | null },
  item: ItemRow,
): Promise<void> {
  const hook = row.status === 'succeeded' ? task.onResult : task.onFailure;
  if (!hook || !hooksEnabled(task)) return;
  const log = ctx.log.child({ itemId: row.id, task: task.name });
  await execute(tx, 'savepoint hook');
  try {
    if (row.status === 'succeeded') {
      await task.onResult!({ itemId: row.id, externalId: item.external_id, input: item.input, output: row.output, tx, log });
    } else {
      await task.onFailure!({ itemId: row.id, externalId: item.external_id, input: item.input, code: row.error_code ?? 'failed', message: row.error_message ?? '', tx, log });
    }
    await execute(tx, 'release savepoint hook');
  } catch (err) {
    await execute(tx, 'rollback to savepoint hook');
    log.error({ err }, `${row.status === 'succeeded' ? 'onResult' : 'onFailure'} hook threw; the result is kept`);
  }
}

/** Publishes final results on the task's results queue (after commit; job ids make it idempotent). */
export async function announce(ctx: PipelineContext, task: AnyTask, committed: CommittedResult[]): Promise<void> {
  if (committed.length === 0) return;
  await publishResults(ctx.queues.resultsFor(task.name), ctx.redis, task, committed);
}

function costs(ctx: PipelineContext, model: string, usage: Usage) {
  const { costUsd, syncCostUsd } = costPair(usage, model, ctx.prices);
  return { input_tokens: usage.inputTokens, cached_tokens: usage.cachedTokens, output_tokens: usage.outputTokens, cost_usd: costUsd, sync_cost_usd: syncCostUsd };
}

/** Handles one chunk of raw lines from an output or error file. */
async function handleChunk(ctx: PipelineContext, batch: BatchRow, task: AnyTask, limits: TaskLimits, lines: string[], tally: Tally): Promise<void> {
  const parsed = new Map<string, Record<string, unknown>>();
  for (const raw of lines) {
    try {
      const line = JSON.parse(raw) as Record<string, unknown>;
      if (typeof line.custom_id === 'string') parsed.set(line.custom_id, line);
      else ctx.log.warn({ batchId: batch.id }, 'result line without custom_id skipped');
    } catch {
      ctx.log.warn({ batchId: batch.id }, 'result line that is not JSON skipped; its item counts as not executed');
    }
  }
  const ids = [...parsed.keys()].filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  if (ids.length === 0) return;
  const rows = await query<ItemRow>(
    ctx.db,
    `select id, external_id, input, attempts, requeues, max_output_tokens from items
      where id in (select value::uuid from jsonb_array_elements_text($1::jsonb)) and batch_id = $2::uuid and status in ('batched', 'submitted')`,
    JSON.stringify(ids),
    batch.id,
  );
  const items = new Map(rows.map((r) => [r.id, r]));
  const decisions: Decision[] = [];
  for (const item of rows) {
    const verdict = judgeLine(parsed.get(item.id)!, task, item.input);
    const usage = verdict.kind === 'not_executed' ? NO_USAGE : verdict.usage;
    const d = { ...decide(verdict, item, limits), ...costs(ctx, batch.model, usage) };
    decisions.push(d);
  }
  const announcements = await commitDecisions(ctx, task, batch.id, decisions, items);
  await announce(ctx, task, announcements);
  tally.lines += lines.length;
  for (const d of decisions) {
    if (d.outcome === 'succeeded') tally.succeeded++;
    else if (d.outcome === 'retry') tally.retried++;
    else if (d.outcome === 'failed') tally.failed++;
    else if (d.status === 'queued') tally.requeued++;
    else tally.failed++;
  }
}

function notExecutedReason(batch: BatchRow): { code: string; message: string } {
  switch (batch.status) {
    case 'expired':
      return { code: 'batch_expired', message: 'the batch expired before this request ran' };
    case 'cancelled':
      return { code: 'batch_cancelled', message: 'the batch was cancelled before this request ran' };
    case 'failed': {
      const why = batch.errors?.[0]?.message ?? batch.last_error ?? 'the batch failed';
      return { code: 'batch_failed', message: `the batch failed before running: ${why}` };
    }
    default:
      return { code: 'missing_line', message: 'the batch ended without a result line for this request' };
  }
}

/** Items of the batch that no line answered: back to the queue without spending an attempt (bounded). */
async function requeueUnanswered(ctx: PipelineContext, batch: BatchRow, task: AnyTask, limits: TaskLimits, tally: Tally): Promise<void> {
  const reason = notExecutedReason(batch);
  for (;;) {
    const rows = await query<ItemRow>(
      ctx.db,
      `select id, external_id, input, attempts, requeues, max_output_tokens from items
        where batch_id = $1::uuid and status in ('batched', 'submitted') order by id limit ${CHUNK}`,
      batch.id,
    );
    if (rows.length === 0) return;
    const decisions = rows.map((item) => ({ ...decide({ kind: 'not_executed', ...reason }, item, limits), ...costs(ctx, batch.model, NO_USAGE) }));
    const announcements = await commitDecisions(ctx, task, batch.id, decisions, new Map(rows.map((r) => [r.id, r])));
    await announce(ctx, task, announcements);
    for (const d of decisions) d.status === 'queued' ? tally.requeued++ : tally.failed++;
  }
}

/**
 * The SET and FROM parts of the statement that closes a batch with roll-ups from its attempts
 * (counts, tokens, cost); `$1` is the batch id. Shared by batch processing and sync chunks.
 */
export const BATCH_ROLLUP_SQL = `completed_count = s.ok, failed_count = s.bad, input_tokens = s.it, cached_tokens = s.ct, output_tokens = s.ot,
            cost_usd = s.cost, sync_cost_usd = s.sync
       from (select count(*) filter (where outcome = 'succeeded')::int as ok,
                    count(*) filter (where outcome in ('retry', 'failed'))::int as bad,
                    coalesce(sum(input_tokens), 0) as it, coalesce(sum(cached_tokens), 0) as ct, coalesce(sum(output_tokens), 0) as ot,
                    coalesce(sum(cost_usd), 0) as cost, coalesce(sum(sync_cost_usd), 0) as sync
               from attempts where batch_id = $1::uuid) s`;

/** Closes the batch: roll-ups from its attempts, reservation released, files deleted, next build triggered. */
async function finalize(ctx: PipelineContext, batch: BatchRow): Promise<void> {
  await execute(
    ctx.db,
    `update batches b set status = 'processed', processed_at = now(), status_changed_at = now(),
            processing_owner = null, processing_lease_until = null, held_reason = null,
            ${BATCH_ROLLUP_SQL}
      where b.id = $1::uuid and b.status in ('completed', 'expired', 'failed', 'cancelled')`,
    batch.id,
  );
  await ctx.budget.release(batch.model, batch.id);
  const toDelete = ctx.config.providerFileRetention === 'keep' ? [] : [batch.input_file_id, batch.output_file_id, batch.error_file_id];
  for (const fileId of toDelete) {
    if (fileId) await ctx.provider.deleteFile(fileId).catch((err: unknown) => ctx.log.warn({ err, fileId }, 'could not delete a provider file'));
  }
  if (batch.file_path) await ctx.store.remove(batch.file_path);
  await triggerBuild(ctx.queues, batch.task);
  await wakeHeld(ctx, batch.model);
}

/** Streams a batch's output and error files and records a verdict for every item in it. */
export async function processBatch(ctx: PipelineContext, batchId: string): Promise<ProcessOutcome> {
  const lease = await acquireLease(ctx, batchId);
  if (lease === 'busy' || lease === 'done') return { kind: lease };
  const batch = lease;
  const task = ctx.registry.get(batch.task);
  const limits = resolveLimits(task);
  const tally: Tally = { lines: 0, succeeded: 0, retried: 0, failed: 0, requeued: 0 };

  for (const fileId of [batch.output_file_id, batch.error_file_id]) {
    if (!fileId) continue;
    let chunk: string[] = [];
    for await (const line of ctx.provider.fileLines(fileId)) {
      chunk.push(line);
      if (chunk.length >= CHUNK) {
        await handleChunk(ctx, batch, task, limits, chunk, tally);
        await renewLease(ctx, batchId);
        chunk = [];
      }
    }
    await handleChunk(ctx, batch, task, limits, chunk, tally);
  }
  await requeueUnanswered(ctx, batch, task, limits, tally);
  await finalize(ctx, batch);
  ctx.log.info({ batchId, ...tally }, 'batch processed');
  return { kind: 'processed', ...tally };
}
