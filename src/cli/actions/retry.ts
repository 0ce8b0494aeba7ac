/**
 * Re-drive of permanently failed items (the dead letter): they go back to `queued` with their
 * attempt and requeue counters reset and their error cleared; their history stays in `attempts`.
 * Set-based, in chunks (skip-locked row locks), then one build trigger per task.
 */
import type { PipelineContext } from '../../pipeline/context.ts';
import * as items from '../../store/items.ts';
import { triggerBuild } from '../../pipeline/triggers.ts';
import { CliError } from '../io.ts';
import { requireKnownTask } from '../lookup.ts';
import { isUuid } from '../parse.ts';

export interface RetryFilter {
  itemIds?: string[];
  task?: string;
  /** items.error_code */
  reason?: string;
  /** Every failed item (alone, or narrowed by the other filters). */
  allFailed?: boolean;
}

export interface RetryResult {
  retried: number;
  byTask: Record<string, number>;
  /** Given item ids that were not failed (or do not exist), with their status. */
  skipped: Array<{ id: string; status: string | null }>;
  /** Tasks not in this fleet's registry: their items were re-queued but no build was triggered. */
  unknownTasks: string[];
}

const CHUNK = 1_000;

export const RETRY_NEEDS_FILTER =
  'retry needs a filter: --item <id…>, --task <task>, --reason <code> or --all-failed (refusing to re-drive every failed item without being asked)';

/** Re-queues the failed items selected by `filter`. Throws CliError when no filter is given, or for an unknown task. */
export async function retryFailedItems(
  ctx: PipelineContext,
  filter: RetryFilter,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<RetryResult> {
  const ids = filter.itemIds?.length ? filter.itemIds : undefined;
  if (!ids && !filter.task && !filter.reason && !filter.allFailed) throw new CliError(RETRY_NEEDS_FILTER, 2);
  const bad = ids?.filter((id) => !isUuid(id)) ?? [];
  if (bad.length) throw new CliError(`not an item id: ${bad.join(', ')}; item ids are UUIDs (see \`batchfleet items --status failed\`)`, 2);
  if (filter.task) await requireKnownTask(ctx, filter.task);
  const selection: items.FailedFilter = { ids, task: filter.task, reason: filter.reason };
  const total = await items.countFailed(ctx.db, selection);
  const byTask: Record<string, number> = {};
  let done = 0;
  onProgress(0, total);
  for (;;) {
    const tasks = await items.requeueFailed(ctx.db, selection, CHUNK, ctx.now());
    if (tasks.length === 0) break;
    for (const task of tasks) byTask[task] = (byTask[task] ?? 0) + 1;
    done += tasks.length;
    onProgress(done, Math.max(total, done));
  }

  const unknownTasks: string[] = [];
  for (const task of Object.keys(byTask)) {
    if (ctx.registry.has(task)) await triggerBuild(ctx, task);
    else unknownTasks.push(task);
  }
  if (done > 0) ctx.log.info({ retried: done, byTask }, 'failed items re-queued by an operator');

  let skipped: RetryResult['skipped'] = [];
  if (ids) {
    const status = await items.statusesOf(ctx.db, ids);
    skipped = ids.filter((id) => status.get(id.toLowerCase()) !== 'queued').map((id) => ({ id, status: status.get(id.toLowerCase()) ?? null }));
  }
  return { retried: done, byTask, skipped, unknownTasks };
}
