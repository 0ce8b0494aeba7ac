import type { Db } from '../db.ts';
import { query } from '../sql.ts';

/** What a run achieved, from PostgreSQL alone. */
export interface RunSummary {
  items: number;
  succeeded: number;
  failed: number;
  pending: number;
  batches: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  syncCostUsd: number;
  savingsUsd: number;
  failuresByReason: Record<string, number>;
}

/** Summarises the items whose external id starts with `runPrefix` (all items when empty). */
export async function summarizeRun(db: Db, runPrefix = ''): Promise<RunSummary> {
  const like = `${runPrefix.replace(/[\\%_]/g, '\\$&')}%`;
  const [s] = await query<{ items: number; succeeded: number; failed: number; input_tokens: number; output_tokens: number; cost: number; sync: number; batches: number }>(
    db,
    `select count(*)::int as items,
            count(*) filter (where status = 'succeeded')::int as succeeded,
            count(*) filter (where status = 'failed')::int as failed,
            coalesce(sum(input_tokens), 0)::float8 as input_tokens,
            coalesce(sum(output_tokens), 0)::float8 as output_tokens,
            coalesce(sum(cost_usd), 0)::float8 as cost,
            coalesce(sum(sync_cost_usd), 0)::float8 as sync,
            (select count(distinct a.batch_id)::int from attempts a join items j on j.id = a.item_id where j.external_id like $1) as batches
       from items where external_id like $1`,
    like,
  );
  const reasons = await query<{ code: string; n: number }>(
    db,
    `select coalesce(error_code, 'unknown') as code, count(*)::int as n from items where external_id like $1 and status = 'failed' group by 1 order by 2 desc`,
    like,
  );
  const r = s!;
  return {
    items: r.items,
    succeeded: r.succeeded,
    failed: r.failed,
    pending: r.items - r.succeeded - r.failed,
    batches: r.batches,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    costUsd: Number(r.cost.toFixed(8)),
    syncCostUsd: Number(r.sync.toFixed(8)),
    savingsUsd: Number((r.sync - r.cost).toFixed(8)),
    failuresByReason: Object.fromEntries(reasons.map((x) => [x.code, x.n])),
  };
}

/** Final items so far among those whose external id starts with `runPrefix`. */
export async function runProgress(db: Db, runPrefix: string): Promise<{ ok: number; bad: number }> {
  const like = `${runPrefix.replace(/[\\%_]/g, '\\$&')}%`;
  const [r] = await query<{ ok: number; bad: number }>(
    db,
    `select count(*) filter (where status = 'succeeded')::int as ok, count(*) filter (where status = 'failed')::int as bad from items where external_id like $1`,
    like,
  );
  return r ?? { ok: 0, bad: 0 };
}
