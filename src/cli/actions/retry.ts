/**
 * Re-drive of permanently failed items (the dead letter): they go back to `queued` with their
 * attempt and requeue counters reset and their error cleared; their history stays in `attempts`.
 * Set-based, in chunks (FOR UPDATE SKIP LOCKED), then one build trigger per task.
 */
import { query } from '../../db/sql.ts';
import type { PipelineContext } from '../../pipeline/context.ts';
import { triggerBuild } from '../../pipeline/triggers.ts';
import { CliError } from '../io.ts';
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

function whereClause(): string {
  return `status = 'failed'
      and ($1::jsonb is null or id in (select value::uuid from jsonb_array_elements_text($1::jsonb)))
      and ($2::text is null or task = $2)
      and ($3::text is null or error_code = $3)`;
}

/** Re-queues the failed items selected by `filter`. Throws CliError when no filter is given. */
export async function retryFailedItems(
  ctx: PipelineContext,
  filter: RetryFilter,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<RetryResult> {
  const ids = filter.itemIds?.length ? filter.itemIds : undefined;
  if (!ids && !filter.task && !filter.reason && !filter.allFailed) throw new CliError(RETRY_NEEDS_FILTER, 2);
  const bad = ids?.filter((id) => !isUuid(id)) ?? [];
  if (bad.length) throw new CliError(`not an item id: ${bad.join(', ')}`, 2);
  const params = [ids ? JSON.stringify(ids) : null, filter.task ?? null, filter.reason ?? null] as const;

  const [count] = await query<{ n: number }>(ctx.db, `select count(*)::int as n from items where ${whereClause()}`, ...params);
  const total = count?.n ?? 0;
  const byTask: Record<string, number> = {};
  let done = 0;
  onProgress(0, total);
  for (;;) {
    const rows = await query<{ task: string }>(
      ctx.db,
      `with picked as (
         select id from items where ${whereClause()} order by id limit ${CHUNK} for update skip locked
       )
       update items i set status = 'queued', attempts = 0, requeues = 0, error_code = null, error_message = null,
              batch_id = null, available_at = now(), finished_at = null, updated_at = now()
         from picked where i.id = picked.id and i.status = 'failed'
       returning i.task`,
      ...params,
    );
    if (rows.length === 0) break;
    for (const r of rows) byTask[r.task] = (byTask[r.task] ?? 0) + 1;
    done += rows.length;
    onProgress(done, Math.max(total, done));
  }

  const unknownTasks: string[] = [];
  for (const task of Object.keys(byTask)) {
    if (ctx.registry.has(task)) await triggerBuild(ctx.queues, task);
    else unknownTasks.push(task);
  }
  if (done > 0) ctx.log.info({ retried: done, byTask }, 'failed items re-queued by an operator');

  let skipped: RetryResult['skipped'] = [];
  if (ids) {
    const states = await query<{ id: string; status: string }>(
      ctx.db,
      `select id::text, status from items where id in (select value::uuid from jsonb_array_elements_text($1::jsonb))`,
      JSON.stringify(ids),
    );
    const status = new Map(states.map((s) => [s.id, s.status]));
    skipped = ids.filter((id) => status.get(id.toLowerCase()) !== 'queued').map((id) => ({ id, status: status.get(id.toLowerCase()) ?? null }));
  }
  return { retried: done, byTask, skipped, unknownTasks };
}
