import type { Db } from '../db/client.ts';
import { query } from '../db/sql.ts';

export interface ItemAttempt {
  batchId: string;
  outcome: string;
  errorCode: string | null;
  errorMessage: string | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  at: Date;
}

/** An item as a producer sees it: its state, why it waits or failed, and its history. */
export interface ItemView {
  id: string;
  task: string;
  externalId: string;
  status: string;
  attempts: number;
  requeues: number;
  output: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  costUsd: number;
  batchId: string | null;
  batchStatus: string | null;
  /** Set when the item's batch is held (token budget, concurrency, spend cap), with the reason. */
  heldReason: string | null;
  /** Tokens summed over the item's attempts. */
  usage: { inputTokens: number; cachedTokens: number; outputTokens: number };
  finishedAt: Date | null;
  history: ItemAttempt[];
}

/** Looks an item up by id, or by task and external id. */
export async function findItem(db: Db, key: { id: string } | { task: string; externalId: string }): Promise<ItemView | null> {
  const [row] = await query<{
    id: string; task: string; external_id: string; status: string; attempts: number; requeues: number; output: unknown;
    error_code: string | null; error_message: string | null; cost_usd: number; batch_id: string | null; batch_status: string | null; held_reason: string | null;
    input_tokens: number; cached_tokens: number; output_tokens: number; finished_at: Date | null;
  }>(
    db,
    `select i.id, i.task, i.external_id, i.status, i.attempts, i.requeues, i.output, i.error_code, i.error_message,
            i.cost_usd::float8 as cost_usd, i.batch_id, b.status as batch_status, b.held_reason,
            i.input_tokens, i.cached_tokens, i.output_tokens, i.finished_at
       from items i left join batches b on b.id = i.batch_id
      where ${'id' in key ? 'i.id::text = $1' : 'i.task = $1 and i.external_id = $2'}`,
    ...('id' in key ? [key.id] : [key.task, key.externalId]),
  );
  if (!row) return null;
  const history = await query<{ batch_id: string; outcome: string; error_code: string | null; error_message: string | null; input_tokens: number; output_tokens: number; cost_usd: number; created_at: Date }>(
    db,
    `select batch_id, outcome, error_code, error_message, input_tokens, output_tokens, cost_usd::float8 as cost_usd, created_at
       from attempts where item_id = $1::uuid order by created_at, id`,
    row.id,
  );
  return {
    id: row.id, task: row.task, externalId: row.external_id, status: row.status, attempts: row.attempts, requeues: row.requeues,
    output: row.output, errorCode: row.error_code, errorMessage: row.error_message, costUsd: row.cost_usd,
    batchId: row.batch_id, batchStatus: row.batch_status, heldReason: row.held_reason,
    usage: { inputTokens: row.input_tokens, cachedTokens: row.cached_tokens, outputTokens: row.output_tokens }, finishedAt: row.finished_at,
    history: history.map((h) => ({ batchId: h.batch_id, outcome: h.outcome, errorCode: h.error_code, errorMessage: h.error_message, inputTokens: h.input_tokens, outputTokens: h.output_tokens, costUsd: h.cost_usd, at: h.created_at })),
  };
}
