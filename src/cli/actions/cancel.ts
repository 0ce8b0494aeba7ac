/**
 * Cancels. A batch open at the provider gets a cancel request (recorded in cancel_requested_at);
 * the poll loop, woken at once, then sees `cancelling`/`cancelled` and result processing
 * requeues every item that did not finish. A built batch not yet submitted is cancelled here and
 * processed the same way. A queued item is cancelled for good (status `cancelled`).
 */
import type { PipelineContext } from '../../pipeline/context.ts';
import { enqueueProcess, wakePoll } from '../../pipeline/triggers.ts';
import * as batches from '../../store/batches.ts';
import * as items from '../../store/items.ts';
import { resolveBatchId } from '../../store/read-models/index.ts';
import { CliError } from '../io.ts';
import { isUuid } from '../parse.ts';

export interface CancelBatchResult {
  batchId: string;
  providerBatchId: string | null;
  previousStatus: string;
  /** `cancel_requested`: asked the provider; `cancelled_locally`: never submitted, cancelled here. */
  outcome: 'cancel_requested' | 'cancelled_locally';
  providerStatus: string | null;
}

const AT_PROVIDER = ['validating', 'in_progress', 'finalizing'];

export async function cancelBatch(ctx: PipelineContext, idOrProviderId: string): Promise<CancelBatchResult> {
  const id = await resolveBatchId(ctx.db, idOrProviderId);
  const row = id ? await batches.get(ctx.db, id) : undefined;
  if (!id || !row) throw new CliError(`no batch ${idOrProviderId} (neither our id nor a provider batch id); list them with \`batchfleet batches\``);
  const b = { status: row.status, provider_batch_id: row.providerBatchId };

  if (AT_PROVIDER.includes(b.status) && b.provider_batch_id) {
    // Recorded once the provider accepted it: a refused cancel must not look requested (the expiry watch skips requested ones).
    const remote = await ctx.provider.cancelBatch(b.provider_batch_id);
    await batches.recordCancelRequested(ctx.db, id, ctx.now());
    await wakePoll(ctx, b.provider_batch_id).catch((err: unknown) => ctx.log.warn({ err: (err as Error).message, batchId: id }, 'could not wake the poll loop; it will see the cancel on its next poll'));
    ctx.log.warn({ batchId: id, providerBatchId: b.provider_batch_id, providerStatus: remote.status }, 'batch cancel requested by an operator');
    return { batchId: id, providerBatchId: b.provider_batch_id, previousStatus: b.status, outcome: 'cancel_requested', providerStatus: remote.status };
  }
  if (b.status === 'built') {
    if (await batches.cancelUnsubmitted(ctx.db, id, ctx.now())) {
      await enqueueProcess(ctx, id);
      ctx.log.warn({ batchId: id }, 'unsubmitted batch cancelled by an operator; its items go back to the queue');
      return { batchId: id, providerBatchId: null, previousStatus: 'built', outcome: 'cancelled_locally', providerStatus: null };
    }
    throw new CliError(`batch ${id} changed status while cancelling it; look at it again with \`batchfleet show ${id}\``);
  }
  if (b.status === 'cancelling') throw new CliError(`batch ${id} is already being cancelled`);
  if (b.status === 'submitting' || b.status === 'building') throw new CliError(`batch ${id} is ${b.status} right now; try again in a few seconds`);
  throw new CliError(`batch ${id} is already ${b.status}: only open batches can be cancelled`);
}

export interface CancelItemsResult {
  cancelled: string[];
  /** Ids that were not queued (or do not exist), with their status. */
  skipped: Array<{ id: string; status: string | null }>;
}

/** Cancels queued items for good. Items already in a batch are left alone (cancel the batch). */
export async function cancelItems(ctx: PipelineContext, ids: string[]): Promise<CancelItemsResult> {
  const bad = ids.filter((id) => !isUuid(id));
  if (bad.length) throw new CliError(`not an item id: ${bad.join(', ')}; item ids are UUIDs (see \`batchfleet items --status queued\`)`, 2);
  const cancelled = new Set(await items.cancelQueued(ctx.db, ids, ctx.now()));
  const status = await items.statusesOf(ctx.db, ids);
  return {
    cancelled: [...cancelled],
    skipped: ids.filter((id) => !cancelled.has(id.toLowerCase())).map((id) => ({ id, status: status.get(id.toLowerCase()) ?? null })),
  };
}
