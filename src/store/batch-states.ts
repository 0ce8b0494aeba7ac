/*
 * The batch state machine. One row of `batches` is one batch file and its life at the provider
 * (or, in sync mode, one chunk of synchronous requests).
 *
 *   (claim) ─► building ─► built ─► submitting ─► validating ─► in_progress ─► finalizing
 *                 │          │ ▲         │             └──────────┬──────────────┘   │
 *                 │          │ └─────────┼─── token_limit_exceeded (resubmit) ◄─────┤ cancelling
 *                 │          │           ▼                                          ▼
 *                 │          └──────► cancelled      failed   completed | expired | failed | cancelled
 *                 │          (operator)      (refused at create)            │
 *                 ▼                                                         ▼
 *             processed ◄──── sync chunk done · dissolved (built, open) ◄── processed (results recorded)
 *
 * Why a table and not code: every stage reads a row, decides, and asks for a move; the move is
 * checked here and written by `transition()` as `update … where status in (<from>)`, so a job
 * that runs twice changes nothing the second time. `held_reason` is not a status: a held batch is
 * `built` with a reason. A batch's mode (`batch` | `sync`) is its own column.
 */
import { defineMachine, transition, type TransitionSpec } from './machine.ts';
import type { DbTx } from './db.ts';
import { BATCH_STATUSES, PROVIDER_OPEN, TERMINAL, type BatchStatus } from './statuses.ts';

export { BATCH_STATUSES, PROVIDER_OPEN, TERMINAL, type BatchStatus };

/** Everything not yet processed: counts against the in-flight caps. */
export const OPEN: readonly BatchStatus[] = BATCH_STATUSES.filter((s) => s !== 'processed');
/** Statuses in which the provider may count the batch's tokens: they hold a budget reservation. */
export const RESERVING: readonly BatchStatus[] = ['submitting', ...PROVIDER_OPEN];

export const BATCH_MODES = ['batch', 'sync'] as const;
export type BatchMode = (typeof BATCH_MODES)[number];

const ROLLUPS = ['completed_count', 'failed_count', 'input_tokens', 'cached_tokens', 'output_tokens', 'cost_usd', 'sync_cost_usd'] as const;
const LEASE = ['processing_owner', 'processing_lease_until'] as const;
const HOLD = ['held_reason', 'held_since'] as const;

export const batchMachine = defineMachine({
  name: 'batch',
  table: 'batches',
  stampColumn: 'status_changed_at',
  statuses: BATCH_STATUSES,
  edges: [
    { from: ['building'], to: 'built', sets: ['file_path', 'bytes', 'built_at', 'request_count', 'estimated_tokens'], why: 'file written' },
    { from: ['built'], to: 'submitting', sets: [...HOLD], why: 'budget reserved; upload and create next' },
    {
      from: ['submitting'],
      to: 'validating',
      sets: ['provider_batch_id', 'provider_status', 'submitted_at', 'expires_at', 'last_error'],
      why: 'the provider accepted the batch',
    },
    ...(['in_progress', 'finalizing', 'cancelling'] as const).map((to) => ({
      from: ['submitting', ...PROVIDER_OPEN.filter((s) => s !== to)] as BatchStatus[],
      to,
      sets: ['provider_batch_id', 'provider_status', 'submitted_at', 'expires_at', 'last_error', 'completed_count', 'failed_count'] as const,
      why: 'the provider reports progress',
    })),
    { from: ['in_progress', 'finalizing', 'cancelling'], to: 'validating', sets: ['provider_status', 'completed_count', 'failed_count'], why: 'the provider reports progress' },
    { from: ['submitting'], to: 'failed', sets: ['last_error', 'terminal_at'], why: 'the provider refused the submission for good' },
    ...(['completed', 'expired', 'failed', 'cancelled'] as const).map((to) => ({
      from: PROVIDER_OPEN,
      to,
      sets: ['provider_status', 'output_file_id', 'error_file_id', 'errors', 'terminal_at', 'completed_count', 'failed_count', 'last_error'] as const,
      why: 'the provider ended the batch (written together with its files)',
    })),
    {
      from: PROVIDER_OPEN,
      to: 'built',
      sets: ['provider_status', 'submission', 'previous_provider_ids', 'provider_batch_id', 'create_started_at', 'token_limit_failures', ...HOLD, 'last_error'],
      why: 'token_limit_exceeded: the same file is submitted again',
    },
    { from: ['built'], to: 'cancelled', sets: ['cancel_requested_at', 'terminal_at', ...HOLD, 'last_error'], why: 'an operator cancelled it before submission' },
    {
      from: ['submitting', ...PROVIDER_OPEN],
      to: 'failed',
      sets: ['provider_status', 'terminal_at', 'output_file_id', 'error_file_id', 'last_error'],
      why: 'its provider is gone for good (a stopped demo simulator)',
    },
    { from: TERMINAL, to: 'processed', sets: ['processed_at', ...LEASE, ...HOLD, ...ROLLUPS], why: 'every item has its verdict' },
    { from: ['building'], to: 'processed', sets: ['processed_at', 'terminal_at', ...LEASE, ...ROLLUPS], why: 'a sync chunk ran all its items' },
    {
      from: ['built', ...PROVIDER_OPEN],
      to: 'processed',
      sets: ['processed_at', ...HOLD, 'previous_provider_ids', 'provider_batch_id', 'last_error', 'token_limit_failures'],
      why: 'dissolved: more tokens than the learned limit allows; its items are packed again',
    },
  ],
});

export type BatchColumn = (typeof batchMachine.edges)[number]['sets'][number];

/** Moves batches through the batch machine (see `transition`). */
export function transitionBatches<R = { id: string }>(db: DbTx, spec: TransitionSpec<BatchStatus, BatchColumn>): Promise<R[]> {
  return transition<BatchStatus, BatchColumn, R>(db, batchMachine, spec);
}
