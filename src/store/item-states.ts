/*
 * The item state machine. One row of `items` is one unit of producer work; every attempt at the
 * provider is a row of `attempts`.
 *
 *   (intake) ─► queued ──claim──► batched ─────────┐
 *      │          ▲ │               │                ▼
 *      │          │ └─► cancelled   │        succeeded | failed
 *      │          │   (operator)    │                ▲
 *      │          ├─────────────────┴── queued (retry, or never executed: no attempt spent; dissolved)
 *      └─► failed ┘ (too large at intake or build)   │
 *            └──── operator retry ──► queued ────────┘
 *
 * Why it works this way: an item's verdict comes from its own output line and its task's
 * validator, never from the batch status; a batch that ends without running an item sends it back
 * to `queued` without spending an attempt (bounded by `requeues`). Every move is a conditional
 * UPDATE from `transition()`; a result moves an item only while it is in that batch and waiting.
 * Submission is a batch's move, not its items': rewriting every row of an accepted batch cost a
 * fifth of the database's time. Readers show a `batched` item whose batch is at the provider as
 * `submitted` (`shownItemStatus`, in statuses.ts). Rows written `submitted` by older versions
 * still count as in a batch and leave it by the same edges.
 */
import { defineMachine, planTransition, statusGuard, transition, type TransitionSpec } from './machine.ts';
import type { DbTx } from './db.ts';
import { raw, sql, type Sql } from './sql.ts';

export const ITEM_STATUSES = ['queued', 'batched', 'submitted', 'succeeded', 'failed', 'cancelled'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

/** In a batch, waiting for its verdict. */
export const IN_BATCH: readonly ItemStatus[] = ['batched', 'submitted'];
/**
 * `<alias>.batch_id` is `batchId`, for statements that name their items by id: written so that no
 * index on `batch_id` can serve it, and the planner reaches the rows through the primary key (with
 * the status guard written `byKey`, see `statusGuard`). Right after a claim the statistics do not
 * know the batch, the planner takes it for a few rows, and would read the whole batch again for
 * every chunk of 1,000 ids (quadratic in the batch size).
 */
export function ofBatch(alias: string, batchId: string): Sql {
  return sql`${raw(alias)}.batch_id is not distinct from ${batchId}::uuid`;
}

/** `<alias>.status` is one of `statuses`; `byKey` for statements that name their items by id (see `statusGuard`). */
export function itemStatusIn(alias: string, statuses: readonly ItemStatus[], byKey = false): Sql {
  return statusGuard(itemMachine, alias, statuses, byKey);
}

/** Final: the producer has its answer. */
export const FINAL: readonly ItemStatus[] = ['succeeded', 'failed', 'cancelled'];

export const ATTEMPT_OUTCOMES = ['succeeded', 'retry', 'failed', 'not_executed'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

const RESULT = [
  'attempts', 'requeues', 'batch_id', 'available_at', 'max_output_tokens', 'output', 'error_code', 'error_message',
  'input_tokens', 'cached_tokens', 'output_tokens', 'cost_usd', 'sync_cost_usd', 'finished_at',
] as const;

export const itemMachine = defineMachine({
  name: 'item',
  table: 'items',
  stampColumn: 'updated_at',
  statuses: ITEM_STATUSES,
  edges: [
    { from: ['queued'], to: 'batched', sets: ['batch_id'], why: 'claimed into a batch' },
    { from: IN_BATCH, to: 'succeeded', sets: RESULT, why: 'its line passed the task validator' },
    { from: IN_BATCH, to: 'failed', sets: RESULT, why: 'a permanent failure, or out of attempts or requeues' },
    { from: IN_BATCH, to: 'queued', sets: RESULT, why: 'a retryable failure, or never executed, or its batch dissolved' },
    { from: ['queued'], to: 'failed', sets: ['error_code', 'error_message', 'finished_at'], why: 'can never fit a batch under the current limit' },
    { from: ['queued'], to: 'cancelled', sets: ['error_code', 'error_message', 'finished_at'], why: 'an operator cancelled it' },
    {
      from: ['failed'],
      to: 'queued',
      sets: ['attempts', 'requeues', 'error_code', 'error_message', 'batch_id', 'available_at', 'finished_at'],
      why: 'an operator re-drove it from the dead letter',
    },
  ],
});

export type ItemColumn = (typeof itemMachine.edges)[number]['sets'][number];

/** Builds an item move without running it, to embed in a larger statement (see `planTransition`). */
export function planItemTransition(spec: TransitionSpec<ItemStatus, ItemColumn>): Sql {
  return planTransition(itemMachine, spec);
}

/** Moves items through the item machine (see `transition`). */
export function transitionItems<R = { id: string }>(db: DbTx, spec: TransitionSpec<ItemStatus, ItemColumn>): Promise<R[]> {
  return transition<ItemStatus, ItemColumn, R>(db, itemMachine, spec);
}
