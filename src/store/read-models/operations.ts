/**
 * Read models for operators: the numbers behind `batchfleet status | cost | budget | failures`,
 * the `/metrics` endpoint and the alert evaluator, each one set-based SQL statement (or one Redis
 * or BullMQ call) so that the CLI, the metrics and the alerts always agree.
 */
import type { Db } from '../db.ts';
import { shownItemStatusSql } from '../statuses.ts';
import { query } from '../sql.ts';

export interface ItemCount {
  task: string;
  status: string;
  count: number;
}

export interface BatchCount {
  task: string;
  model: string;
  status: string;
  count: number;
}

export interface HeldBatch {
  id: string;
  task: string;
  model: string;
  reason: string;
  heldSince: Date;
  waitMs: number;
}

export interface StuckBatch {
  id: string;
  task: string;
  model: string;
  status: string;
  providerBatchId: string | null;
  statusChangedAt: Date;
  inStatusMs: number;
}

/** Items by task and status. */
export function itemCounts(db: Db): Promise<ItemCount[]> {
  return query<ItemCount>(
    db,
    `select i.task, ${shownItemStatusSql('i', 'b')} as status, count(*)::int as count
       from items i left join batches b on i.status = 'batched' and b.id = i.batch_id
      group by 1, 2 order by 1, 2`,
  );
}

/** Batches by task, model and status. */
export function batchCounts(db: Db): Promise<BatchCount[]> {
  return query<BatchCount>(
    db,
    'select task, model, status, count(*)::int as count from batches group by task, model, status order by task, model, status',
  );
}

/** Built batches waiting to be submitted, with the reason they wait, oldest first. */
export async function heldBatches(db: Db, now: Date, limit = 1_000): Promise<HeldBatch[]> {
  const rows = await query<{ id: string; task: string; model: string; held_reason: string; held_since: Date; wait_ms: number }>(
    db,
    `select id, task, model, held_reason, held_since, (extract(epoch from $2::timestamptz - held_since) * 1000)::float8 as wait_ms
       from batches where status = 'built' and held_reason is not null
      order by held_since limit $1`,
    limit,
    now.toISOString(),
  );
  return rows.map((r) => ({ id: r.id, task: r.task, model: r.model, reason: r.held_reason, heldSince: r.held_since, waitMs: Math.max(0, Math.round(r.wait_ms)) }));
}

/** Held batches per model: how many and how long the oldest has waited. */
export async function heldByModel(db: Db, now: Date): Promise<Map<string, { count: number; oldestSince: Date; oldestWaitMs: number }>> {
  const rows = await query<{ model: string; n: number; oldest: Date; wait_ms: number }>(
    db,
    `select model, count(*)::int as n, min(held_since) as oldest, (extract(epoch from $1::timestamptz - min(held_since)) * 1000)::float8 as wait_ms
       from batches where status = 'built' and held_reason is not null group by model`,
    now.toISOString(),
  );
  return new Map(rows.map((r) => [r.model, { count: r.n, oldestSince: r.oldest, oldestWaitMs: Math.max(0, Math.round(r.wait_ms)) }]));
}

/**
 * Batches whose status has not changed for longer than `stuckAfterMs`: anything not yet
 * processed (held too long, stuck at the provider, or waiting for result processing).
 */
export async function stuckBatches(db: Db, stuckAfterMs: number, now: Date, limit = 1_000): Promise<StuckBatch[]> {
  const rows = await query<{ id: string; task: string; model: string; status: string; provider_batch_id: string | null; status_changed_at: Date; ms: number }>(
    db,
    `select id, task, model, status, provider_batch_id, status_changed_at, (extract(epoch from $3::timestamptz - status_changed_at) * 1000)::float8 as ms
       from batches
      where status <> 'processed' and status_changed_at < $3::timestamptz - ($1 || ' milliseconds')::interval
      order by status_changed_at limit $2`,
    String(stuckAfterMs),
    limit,
    now.toISOString(),
  );
  return rows.map((r) => ({
    id: r.id, task: r.task, model: r.model, status: r.status, providerBatchId: r.provider_batch_id,
    statusChangedAt: r.status_changed_at, inStatusMs: Math.round(r.ms),
  }));
}

/** Stuck batches counted by status (for the metric). */
export function stuckCounts(db: Db, stuckAfterMs: number, now: Date): Promise<Array<{ status: string; count: number }>> {
  return query(
    db,
    `select status, count(*)::int as count from batches
      where status <> 'processed' and status_changed_at < $2::timestamptz - ($1 || ' milliseconds')::interval group by status`,
    String(stuckAfterMs),
    now.toISOString(),
  );
}

/** Rejected intake payloads and items, by task ("" when the payload named none). */
export function rejectionCounts(db: Db): Promise<Array<{ task: string; count: number }>> {
  return query(db, `select coalesce(task, '') as task, count(*)::int as count from rejections group by 1 order by 1`);
}

/** Permanently failed items (the dead letter) by task and cause (items.error_code). */
export function failedItemCounts(db: Db): Promise<Array<{ task: string; cause: string; count: number }>> {
  return query(
    db,
    `select task, coalesce(error_code, 'unknown') as cause, count(*)::int as count from items where status = 'failed' group by 1, 2 order by 1, 2`,
  );
}

// ---------------------------------------------------------------------------------------------
// Cost

const num = (v: string | number | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));
const round = (n: number, digits = 10): number => Number(n.toFixed(digits));
const pct = (savings: number, sync: number): number => (sync > 0 ? Number(((savings / sync) * 100).toFixed(2)) : 0);

/** Cost and savings of a group of attempts. */
export interface CostFigures {
  attempts: number;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  /** What the work cost at Batch prices, USD. */
  costUsd: number;
  /** What the same usage costs synchronously, USD. */
  syncCostUsd: number;
  savingsUsd: number;
  savingsPct: number;
}

export type CostGrouping = 'task' | 'model' | 'day';

export interface CostRow extends CostFigures {
  /** The group: a task name, a model or a UTC day (YYYY-MM-DD). */
  key: string;
}

export interface CostReport {
  by: CostGrouping;
  since: string | null;
  /** Version of the price table in effect now (stored costs were computed when each attempt was processed). */
  priceTableVersion: string;
  totalCostUsd: number;
  totalSyncCostUsd: number;
  savingsUsd: number;
  savingsPct: number;
  total: CostFigures;
  rows: CostRow[];
}

interface CostSql {
  key: string;
  attempts: number;
  input_tokens: string;
  cached_tokens: string;
  output_tokens: string;
  cost: string;
  sync: string;
}

function figures(r: CostSql): CostFigures {
  const cost = num(r.cost);
  const sync = num(r.sync);
  const savings = round(sync - cost);
  return {
    attempts: r.attempts,
    inputTokens: num(r.input_tokens),
    cachedTokens: num(r.cached_tokens),
    outputTokens: num(r.output_tokens),
    costUsd: cost,
    syncCostUsd: sync,
    savingsUsd: savings,
    savingsPct: pct(savings, sync),
  };
}

const GROUP_SQL: Record<CostGrouping, string> = {
  task: 'b.task',
  model: 'b.model',
  day: `to_char(a.created_at at time zone 'utc', 'YYYY-MM-DD')`,
};

/**
 * Cost from the stored per-attempt usage (table `attempts`; task and model from the attempt's
 * batch), grouped by task, model or UTC day, since an optional date. Sums are exact (numeric).
 */
export async function costReport(db: Db, options: { by?: CostGrouping; since?: Date | null; priceTableVersion: string }): Promise<CostReport> {
  const by = options.by ?? 'task';
  const since = options.since ?? null;
  const rows = await query<CostSql>(
    db,
    `select ${GROUP_SQL[by]} as key, count(*)::int as attempts,
            coalesce(sum(a.input_tokens), 0)::text as input_tokens, coalesce(sum(a.cached_tokens), 0)::text as cached_tokens,
            coalesce(sum(a.output_tokens), 0)::text as output_tokens,
            coalesce(sum(a.cost_usd), 0)::text as cost, coalesce(sum(a.sync_cost_usd), 0)::text as sync
       from attempts a join batches b on b.id = a.batch_id
      where ($1::timestamptz is null or a.created_at >= $1::timestamptz)
      group by 1 order by 1`,
    since,
  );
  const [t] = await query<CostSql>(
    db,
    `select '' as key, count(*)::int as attempts,
            coalesce(sum(input_tokens), 0)::text as input_tokens, coalesce(sum(cached_tokens), 0)::text as cached_tokens,
            coalesce(sum(output_tokens), 0)::text as output_tokens,
            coalesce(sum(cost_usd), 0)::text as cost, coalesce(sum(sync_cost_usd), 0)::text as sync
       from attempts where ($1::timestamptz is null or created_at >= $1::timestamptz)`,
    since,
  );
  const total = figures(t!);
  return {
    by,
    since: since ? since.toISOString() : null,
    priceTableVersion: options.priceTableVersion,
    totalCostUsd: total.costUsd,
    totalSyncCostUsd: total.syncCostUsd,
    savingsUsd: total.savingsUsd,
    savingsPct: total.savingsPct,
    total,
    rows: rows.map((r) => ({ key: r.key, ...figures(r) })),
  };
}

/**
 * Cost totals per task, cheap enough for every scrape: the roll-ups of processed batches plus
 * the attempts of batches still being processed. Equal to the sum over `attempts` at all times.
 */
export async function costByTask(db: Db): Promise<Array<{ task: string; costUsd: number; syncCostUsd: number }>> {
  const rows = await query<{ task: string; cost: string; sync: string }>(
    db,
    `select task, coalesce(sum(cost), 0)::text as cost, coalesce(sum(sync), 0)::text as sync from (
       select task, cost_usd as cost, sync_cost_usd as sync from batches where status = 'processed'
       union all
       select b.task, a.cost_usd, a.sync_cost_usd from batches b join attempts a on a.batch_id = b.id where b.status <> 'processed'
     ) c group by task order by task`,
  );
  return rows.map((r) => ({ task: r.task, costUsd: num(r.cost), syncCostUsd: num(r.sync) }));
}

export type FailureGrouping = 'cause' | 'task' | 'model';

/** Attempt outcomes in a window, by task, model and cause. */
export interface FailureRow {
  task: string;
  model: string;
  /** attempts.error_code ('' for successes). */
  cause: string;
  /** Attempts that ran and failed (outcome retry or failed). */
  failures: number;
  /** Of those, the ones that ended the item (outcome failed). */
  final: number;
}

export interface FailureWindow {
  since: Date;
  /** Attempts that ran at the provider (succeeded, retry, failed) per task. */
  attemptsByTask: Map<string, { model: string; attempts: number; failures: number }>;
  rows: FailureRow[];
}

/**
 * Failures by cause (attempts.error_code), task and model among the attempts recorded since
 * `since`, plus the number of attempts that ran per task (the failure rate's denominator).
 * Attempts a batch never executed (outcome not_executed) are neither failures nor attempts.
 */
export async function failuresSince(db: Db, since: Date): Promise<FailureWindow> {
  const rows = await query<{ task: string; model: string; cause: string; outcome: string; n: number }>(
    db,
    `select b.task, b.model, coalesce(a.error_code, '') as cause, a.outcome, count(*)::int as n
       from attempts a join batches b on b.id = a.batch_id
      where a.created_at >= $1::timestamptz and a.outcome in ('succeeded', 'retry', 'failed')
      group by 1, 2, 3, 4`,
    since,
  );
  const attemptsByTask = new Map<string, { model: string; attempts: number; failures: number }>();
  const byCause = new Map<string, FailureRow>();
  for (const r of rows) {
    const t = attemptsByTask.get(r.task) ?? { model: r.model, attempts: 0, failures: 0 };
    t.attempts += r.n;
    if (r.outcome !== 'succeeded') {
      t.failures += r.n;
      const key = `${r.task}\u0000${r.model}\u0000${r.cause}`;
      const f = byCause.get(key) ?? { task: r.task, model: r.model, cause: r.cause || 'unknown', failures: 0, final: 0 };
      f.failures += r.n;
      if (r.outcome === 'failed') f.final += r.n;
      byCause.set(key, f);
    }
    attemptsByTask.set(r.task, t);
  }
  const sorted = [...byCause.values()].sort((a, b) => b.failures - a.failures || a.task.localeCompare(b.task) || a.cause.localeCompare(b.cause));
  return { since, attemptsByTask, rows: sorted };
}

/** Failures per time bucket (hour or day, UTC), by task, model and cause, since `since`. */
export function failureTimeline(
  db: Db,
  options: { since: Date; bucket: 'hour' | 'day' },
): Promise<Array<{ bucket: string; task: string; model: string; cause: string; failures: number }>> {
  const unit = options.bucket === 'hour' ? 'hour' : 'day';
  return query(
    db,
    `select to_char(date_trunc('${unit}', a.created_at at time zone 'utc'), 'YYYY-MM-DD"T"HH24:00"Z"') as bucket,
            b.task, b.model, coalesce(a.error_code, 'unknown') as cause, count(*)::int as failures
       from attempts a join batches b on b.id = a.batch_id
      where a.created_at >= $1::timestamptz and a.outcome in ('retry', 'failed')
      group by 1, 2, 3, 4 order by 1, 2, 3, 4`,
    options.since,
  );
}

// ---------------------------------------------------------------------------------------------
// Budget


/** Models of batches not yet processed. */
export async function modelsInFlight(db: Db): Promise<string[]> {
  return (await query<{ model: string }>(db, `select distinct model from batches where status <> 'processed'`)).map((r) => r.model);
}

/** Answers when PostgreSQL is reachable. */
export async function ping(db: Db): Promise<void> {
  await query(db, 'select 1 as ok');
}
